// The flow page's test chat: talks to POST …/flows/<id>/test-chat/ with the session's CSRF
// token and draws the bot's replies, the path, the variables and the test events it logged.
// Everything from the server is put on the page as text (textContent), never as HTML.
(() => {
  const panel = document.getElementById("test-chat");
  if (!panel) return;

  const $ = (selector) => panel.querySelector(selector);
  const log = $("[data-chat-log]");
  const chips = $("[data-chat-chips]");
  const form = $("[data-chat-form]");
  const input = $("[data-chat-input]");
  const send = $("[data-chat-send]");
  const startButton = $("[data-chat-start]");
  const resetButton = $("[data-chat-reset]");
  const versionPicker = $("[data-chat-version]");
  const statusLine = $("[data-chat-status]");
  const variablesList = $("[data-chat-variables]");
  const pathList = $("[data-chat-path]");
  const eventsList = $("[data-chat-events]");
  const csrf = panel.querySelector("input[name=csrfmiddlewaretoken]").value;
  const eventUrl = panel.dataset.eventUrl; // ".../events/0/": 0 is replaced by the id

  let session = null;
  let busy = false;

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const scrollDown = () => {
    log.scrollTop = log.scrollHeight;
  };

  const bubble = (who, text) => {
    const row = el("div", `chat-row from-${who}`);
    row.append(el("div", "bubble", text));
    log.append(row);
    scrollDown();
    return row;
  };

  const notice = (text, kind = "") => {
    const line = el("div", `chat-notice ${kind}`.trim(), text);
    log.append(line);
    scrollDown();
    return line;
  };

  const setBusy = (value) => {
    busy = value;
    panel.classList.toggle("is-busy", value);
    const open = session !== null && !value;
    input.disabled = !open;
    send.disabled = !open;
    startButton.disabled = value;
    startButton.textContent = session === null ? "Start" : "Start again";
    resetButton.disabled = value || session === null;
    for (const button of panel.querySelectorAll("[data-press]")) button.disabled = value;
  };

  const press = (kind, title, payload) => {
    if (busy || session === null) return;
    bubble("user", title);
    chips.replaceChildren();
    turn({ action: "message", kind, text: title, payload, session });
  };

  const drawReply = (reply) => {
    const row = bubble("bot", reply.text);
    if (reply.buttons.length) {
      const buttons = el("div", "bubble-buttons");
      for (const button of reply.buttons) {
        const item = el("button", "", button.title);
        item.type = "button";
        item.dataset.press = "postback";
        item.addEventListener("click", () => press("postback", button.title, button.payload));
        buttons.append(item);
      }
      row.querySelector(".bubble").append(buttons);
    }
    if (reply.quick_replies.length) {
      chips.replaceChildren();
      for (const quick of reply.quick_replies) {
        const chip = el("button", "chip", quick.title);
        chip.type = "button";
        chip.dataset.press = "quick_reply";
        chip.addEventListener("click", () => press("quick_reply", quick.title, quick.payload));
        chips.append(chip);
      }
    }
  };

  const drawVariables = (variables) => {
    const names = Object.keys(variables).sort();
    if (!names.length) {
      variablesList.replaceChildren(el("p", "empty", "No variables yet."));
      return;
    }
    const list = el("dl", "facts");
    for (const name of names) {
      list.append(el("dt", "", name));
      list.append(el("dd", "", variables[name] === "" ? "—" : variables[name]));
    }
    variablesList.replaceChildren(list);
  };

  const drawPath = (path, fresh) => {
    if (fresh) pathList.replaceChildren();
    for (const earlier of pathList.querySelectorAll("li.latest")) earlier.classList.remove("latest");
    for (const step of path) {
      const item = el("li", "latest");
      item.append(el("strong", "", step.label), " ", el("code", "", step.node_id));
      pathList.append(item);
    }
    pathList.scrollTop = pathList.scrollHeight;
    pathList.hidden = pathList.children.length === 0;
  };

  const drawEvents = (events) => {
    if (!events.length) {
      eventsList.replaceChildren(el("p", "empty", "No events logged yet."));
      return;
    }
    const list = el("ul", "chat-events");
    for (const event of events) {
      const item = el("li");
      const name = el("a", "", event.event);
      name.href = eventUrl.replace(/0\/$/, `${event.id}/`);
      item.append(name, " ", el("span", "badge test", "test"), " ");
      item.append(el("span", `badge st-${event.status}`, event.status_label || event.status));
      // By key: PostgreSQL's jsonb keeps no order of its own, so the list must not rely on one.
      const params = Object.entries(event.params)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, value]) => `${key}: ${value}`);
      if (event.value !== null) params.push(`value: ${event.value} ${event.currency}`.trim());
      if (params.length) item.append(el("small", "muted", params.join(" · ")));
      // Why it is not sent (a test event, one kept in Pagepulse, one its transport refuses).
      if (event.reason) item.append(el("small", "reason", event.reason));
      item.append(el("small", "muted", `from ${event.node_id}`));
      list.append(item);
    }
    eventsList.replaceChildren(list);
  };

  const STATUS = {
    waiting: "Waiting for your answer",
    active: "Running",
    ended: "The conversation ended",
    handed_off: "Handed off to a person",
  };

  const draw = (body, fresh) => {
    session = body.session;
    for (const reply of body.replies) drawReply(reply);
    drawPath(body.path, fresh);
    drawVariables(body.variables);
    drawEvents(body.events);
    const version = body.version === "draft" ? "draft" : `version ${body.version}`;
    statusLine.textContent = `${STATUS[body.state.status] || body.state.status} · ${version}`;
    if (body.handoff) notice(`Handed off to your team: ${body.handoff.note}`, "handoff");
    else if (body.state.status === "handed_off" && !body.replies.length) {
      notice("The bot stays quiet: this conversation is with your team now. Start again to test it from the beginning.");
    }
    if (body.state.status === "ended") {
      notice("The conversation ended. Start again to talk to the bot from the beginning.");
      session = null;
    }
  };

  const problemsText = (error) => {
    const problems = (error.details && error.details.problems) || [];
    const lines = problems
      .filter((p) => p.severity === "error")
      .map((p) => (p.node_id ? `${p.node_id}: ${p.message}` : p.message));
    return [error.message, ...lines].join("\n");
  };

  const turn = async (body, fresh = false) => {
    setBusy(true);
    try {
      const response = await fetch(panel.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      });
      const answer = response.status === 204 ? {} : await response.json();
      if (!response.ok) {
        const error = answer.error || { message: `The server answered ${response.status}.` };
        notice(problemsText(error), "error");
        if (error.code === "not_found" || error.code === "test_chat_ended") session = null;
      } else if (body.action === "reset") {
        session = null;
        drawVariables({});
        drawPath([], true);
        drawEvents([]);
        statusLine.textContent = "Not started";
      } else {
        draw(answer, fresh);
      }
    } catch (failure) {
      notice(`Could not reach the server: ${failure.message}`, "error");
    } finally {
      setBusy(false);
      if (session !== null) input.focus();
    }
  };

  const version = () => (versionPicker.value === "draft" ? "draft" : Number(versionPicker.value));

  const start = () => {
    log.replaceChildren();
    chips.replaceChildren();
    notice(`Test chat with the ${versionPicker.selectedOptions[0].textContent.toLowerCase()}.`);
    turn({ action: "start", version: version() }, true);
  };

  startButton.addEventListener("click", start);
  versionPicker.addEventListener("change", () => {
    if (session !== null) start();
  });
  resetButton.addEventListener("click", () => {
    log.replaceChildren();
    chips.replaceChildren();
    notice("Reset. Start again to talk to the bot.");
    turn({ action: "reset", session });
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy || session === null) return;
    input.value = "";
    chips.replaceChildren();
    bubble("user", text);
    turn({ action: "message", kind: "text", text, session });
  });

  setBusy(false);
})();
