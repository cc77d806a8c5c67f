"""The flow editor in a real browser, used as a marketer would: only the mouse and the keyboard.

Builds a lead flow from a blank one (drag from the palette, wire handle to handle, fill the
forms, pick Purchase with a value and currency, and a custom event), sees a problem appear on a
block and go, undoes and redoes, publishes, finds version 1, runs the test chat with the path
lit on the canvas; two people editing the same flow get the choice and lose nothing; a viewer
changes nothing; on a phone the editor reads only (the flow step by step, the test chat) and
turned to a laptop's width edits again. Screenshots of the editor go to docs/screenshots/ with
UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import OperationalError, transaction
from playwright.sync_api import Browser, Dialog, Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from flows import services
from flows.blocks import REGISTRY
from flows.blocks.base import NEXT, BlockType
from flows.blocks.steps import StepResult
from flows.models import Flow, FlowVersion
from tenants.models import ConnectedPage, Tenant, Transport
from tenants.services import Actor
from tests.browser.helpers import block, person, sign_in
from tests.tenants.factories import ConnectedPageFactory, TenantFactory

T = TypeVar("T")
MOD: Literal["Control"] = "Control"


@pytest.fixture(autouse=True)
def _editor_is_built() -> None:
    if not Path(settings.EDITOR_MANIFEST).is_file():
        pytest.fail("The editor is not built: run `make install` (npm ci and the Vite build).")


@pytest.fixture
def workspace() -> Tenant:
    return TenantFactory.create(name="Ada's Bakery", slug="adas-bakery", country="US")


@pytest.fixture
def bakery(workspace: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=workspace,
        name="Ada's Bakery",
        page_id="300000000000001",
        transport=Transport.PAGE_ACTIVITIES,
    )


@pytest.fixture
def lin(db: None, workspace: Tenant) -> User:
    return person("lin", workspace, "editor")


@pytest.fixture
def lead_flow(workspace: Tenant, bakery: ConnectedPage, lin: User) -> Flow:
    """The lead-generation template, as Lin creates it on the Bakery."""
    return services.flow_create(
        tenant=workspace,
        actor=Actor(user=lin),
        page_id=bakery.pk,
        name="Lead generation",
        template="lead_generation",
    )


def wire(page: Page, source: Locator, handle: str, target: Locator) -> None:
    """Drag from `source`'s output handle to `target`'s input, as a person does."""
    start = source.get_by_label(f"{handle} output").bounding_box()
    end = target.get_by_label("Input").bounding_box()
    assert start
    assert end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def from_db(read: Callable[[], T], seconds: float = 5.0) -> T:
    """`read()`, retried while SQLite's shared in-memory test database has the table locked by
    the live server's thread (PostgreSQL, as in CI, never needs a retry)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with transaction.atomic():
                return read()
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def saved(page: Page) -> None:
    expect(page.get_by_role("status").filter(has_text=re.compile("^Saved$"))).to_be_visible()


def settings_panel(page: Page) -> Locator:
    return page.get_by_role("region", name="Block settings")


def place(page: Page, node: Locator, x: int, y: int) -> None:
    """Drag a block by its title to (x, y) of the canvas."""
    canvas = page.get_by_role("region", name="Flow canvas").bounding_box()
    head = node.locator(".block-head").bounding_box()
    assert canvas
    assert head
    page.mouse.move(head["x"] + 12, head["y"] + head["height"] / 2)
    page.mouse.down()
    page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=10)
    page.mouse.up()


def test_build_check_test_and_publish_a_lead_flow_from_blank(
    page: Page, workspace: Tenant, bakery: ConnectedPage, lin: User, screenshot_dir: Path
) -> None:
    page.set_viewport_size({"width": 1600, "height": 1000})
    sign_in(page, "lin")
    page.goto("/t/adas-bakery/flows/")
    page.get_by_role("link", name="New flow").click()
    page.get_by_role("radio", name=re.compile("^Blank")).check()
    page.get_by_label("Name").fill("Cake orders")
    page.get_by_label("Page").select_option(label="Ada's Bakery (300000000000001)")
    page.get_by_role("button", name="Create and open the editor").click()
    expect(page.get_by_label("Flow name")).to_have_value("Cake orders")
    flow = from_db(lambda: Flow.objects.get(name="Cake orders"))
    canvas = page.get_by_role("region", name="Flow canvas")
    expect(block(page, "Start")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "editor-empty.png"))
    place(page, block(page, "Start"), 200, 40)

    # Drag "Send message" from the palette onto the canvas, wire Start to it, type the text.
    palette_item = page.get_by_role("button", name="Send message", exact=True)
    palette_item.drag_to(canvas, target_position={"x": 200, "y": 170})
    welcome = block(page, "Send message")
    expect(welcome).to_be_visible()
    # A new message is empty: the editor says so at once, on the block and the field.
    expect(welcome.get_by_label("1 problem")).to_be_visible()
    message = settings_panel(page).get_by_role("combobox", name="Message")
    expect(settings_panel(page)).to_contain_text("This is empty: fill it in.")
    message.fill("Hi! What cake would you like?")
    expect(block(page, "Send message: Hi! What cake")).not_to_contain_text("1")
    expect(settings_panel(page)).not_to_contain_text("This is empty: fill it in.")
    wire(page, block(page, "Start"), "Next", block(page, "Send message: Hi!"))

    # Ask for an email address, stored in a variable; click adds at the centre of the view.
    page.get_by_role("button", name="Ask a question", exact=True).click()
    form = settings_panel(page)
    form.get_by_role("combobox", name="Question").fill("What's your email address?")
    form.get_by_label("Save the answer as").fill("email")
    form.get_by_label("Answer must be").select_option(label="An email address")
    ask = block(page, "Ask a question: What's your email")
    place(page, ask, 200, 320)
    wire(page, block(page, "Send message: Hi!"), "Next", ask)

    # Log a purchase: the event from the dropdown in plain words, a value and a currency.
    page.get_by_role("button", name="Log event", exact=True).click()
    event = settings_panel(page).get_by_role("combobox", name="Event")
    event.click()
    event.fill("purch")
    page.get_by_role("option", name=re.compile("^Purchase")).click()
    expect(event).to_have_value("Purchase")
    value = settings_panel(page).get_by_role("combobox", name="Value")
    value.fill("{{")
    # Only variables set upstream are offered: none yet, this block is not wired.
    expect(page.get_by_role("listbox", name="Variables")).to_contain_text("psid")
    expect(page.get_by_role("listbox", name="Variables")).not_to_contain_text("{{email}}")
    value.fill("49.90")
    settings_panel(page).get_by_label("Currency").select_option("USD")
    purchase = block(page, "Log event: Purchase")
    place(page, purchase, 200, 470)
    wire(page, ask, "Next", purchase)

    # And a custom event of the bakery's own, with a parameter from a variable.
    page.get_by_role("button", name="Log event", exact=True).click()
    event = settings_panel(page).get_by_role("combobox", name="Event")
    event.click()
    page.get_by_role("option", name="Custom event…").click()
    name = settings_panel(page).get_by_label("Custom event name")
    name.fill("cake booked!")
    expect(settings_panel(page)).to_contain_text(
        "'cake booked!' is not a valid event name: use 1 to 40 characters"
    )
    name.fill("cake_booked")
    expect(settings_panel(page)).not_to_contain_text("is not a valid event name")
    settings_panel(page).get_by_role("button", name="Add parameter").click()
    settings_panel(page).get_by_label("Parameter 1 name").fill("contact")
    place(page, block(page, "Log event: cake_booked"), 560, 170)
    wire(page, purchase, "Next", block(page, "Log event: cake_booked"))
    block(page, "Log event: cake_booked").locator(".block-head").click()
    own_value = settings_panel(page).get_by_placeholder("Value or {{variable}}")
    own_value.fill("{{em")
    page.get_by_role("option", name="{{email}}").click()
    expect(own_value).to_have_value("{{email}}")

    page.get_by_role("button", name="End", exact=True).click()
    place(page, block(page, "End"), 560, 340)
    wire(page, block(page, "Log event: cake_booked"), "Next", block(page, "End"))
    page.get_by_role("button", name="Tidy up").click()
    saved(page)
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("region", name="Problems")).to_contain_text("0 errors")

    # Delete a block with the keyboard, undo it, redo it, undo again.
    block(page, "End").click()
    page.keyboard.press("Delete")
    expect(block(page, "End")).to_have_count(0)
    page.keyboard.press(f"{MOD}+z")
    expect(block(page, "End")).to_have_count(1)
    page.keyboard.press(f"Shift+{MOD}+z")
    expect(block(page, "End")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(block(page, "End")).to_have_count(1)
    # Start cannot be deleted.
    block(page, "Start").click()
    page.keyboard.press("Delete")
    expect(block(page, "Start")).to_have_count(1)
    saved(page)
    page.screenshot(path=str(screenshot_dir / "editor-built.png"))

    # Publish with a note: version 1, listed under Versions.
    page.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Publish this flow")
    dialog.get_by_label("Note").fill("First cake flow")
    dialog.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published version 1.").first).to_be_attached()
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("region", name="Versions")
    expect(versions).to_contain_text("Version 1")
    expect(versions).to_contain_text("First cake flow")

    published = from_db(lambda: FlowVersion.objects.get(flow=flow, number=1).document)
    types = sorted(n["type"] for n in published["nodes"])
    assert types == ["ask", "end", "log_event", "log_event", "send_message", "start"]
    events = {n["data"]["event"]: n["data"] for n in published["nodes"] if n["type"] == "log_event"}
    assert events["purchase"]["value"] == "49.90"
    assert events["purchase"]["currency"] == "USD"
    assert events["cake_booked"]["params"] == {"contact": "{{email}}"}
    assert len(published["edges"]) == 5

    # The test chat runs the draft; the block the conversation waits at is lit, and the path.
    page.get_by_role("button", name="Test").click()
    chat = page.get_by_role("region", name="Test chat")
    chat.get_by_role("button", name="Start").click()
    expect(chat.get_by_role("log", name="Conversation")).to_contain_text("What's your email")
    expect(ask.locator(".block")).to_have_class(re.compile("is-current"))
    expect(block(page, "Send message: Hi!").locator(".block")).to_have_class(re.compile("on-path"))
    chat.get_by_label("Your message").fill("ada@example.com")
    chat.get_by_label("Your message").press("Enter")
    expect(chat.get_by_role("status")).to_have_text("The conversation ended · draft")
    logged = chat.get_by_role("list", name="Events logged")
    expect(logged).to_contain_text("purchase")
    expect(logged).to_contain_text("cake_booked")
    expect(logged).to_contain_text("contact: ada@example.com")
    page.screenshot(path=str(screenshot_dir / "editor-test-chat.png"))


def test_two_editors_get_the_choice_and_lose_nothing(
    lead_flow: Flow,
    browser: Browser,
    live_server: LiveServer,
    workspace: Tenant,
    bakery: ConnectedPage,
    lin: User,
    db: None,
    screenshot_dir: Path,
) -> None:
    person("sam", workspace, "editor")
    flow = lead_flow
    contexts = [
        browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 800})
        for _ in range(2)
    ]
    lins, sams = (context.new_page() for context in contexts)
    try:
        for page, name in ((lins, "lin"), (sams, "sam")):
            page.set_default_timeout(10_000)
            sign_in(page, name)
            page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
            expect(page.get_by_label("Flow name")).to_have_value("Lead generation")

        lins.get_by_label("Flow name").fill("Leads (Lin)")
        saved(lins)
        sams.get_by_label("Flow name").fill("Leads (Sam)")
        dialog = sams.get_by_role("dialog", name="Someone else saved this flow")
        expect(dialog).to_contain_text("lin@example.com saved it")
        sams.screenshot(path=str(screenshot_dir / "editor-conflict.png"))
        dialog.get_by_role("button", name="Keep mine").click()
        saved(sams)
        assert from_db(lambda: Flow.objects.get(pk=flow.pk).name) == "Leads (Sam)"

        # Lin edits again: her save meets Sam's; she loads his, and Undo brings hers back.
        lins.get_by_label("Flow name").fill("Leads (Lin again)")
        dialog = lins.get_by_role("dialog", name="Someone else saved this flow")
        expect(dialog).to_contain_text("sam@example.com saved it")
        dialog.get_by_role("button", name="Load theirs").click()
        expect(lins.get_by_label("Flow name")).to_have_value("Leads (Sam)")
        lins.get_by_role("button", name="Undo").click()
        expect(lins.get_by_label("Flow name")).to_have_value("Leads (Lin again)")
        saved(lins)
        assert from_db(lambda: Flow.objects.get(pk=flow.pk).name) == "Leads (Lin again)"
    finally:
        for context in contexts:
            context.close()


def test_a_viewer_can_look_but_not_change_anything(
    lead_flow: Flow,
    page: Page,
    workspace: Tenant,
    bakery: ConnectedPage,
    lin: User,
    db: None,
) -> None:
    person("vic", workspace, "viewer")
    flow = lead_flow
    sign_in(page, "vic")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    lead = block(page, "Log event: Lead submitted")
    expect(lead).to_be_attached()
    page.get_by_role("button", name="Fit View").click()
    expect(lead).to_be_in_viewport()
    expect(page.get_by_role("complementary", name="Blocks")).to_have_count(0)
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    expect(page.get_by_label("Flow name")).to_be_disabled()
    lead.click()
    expect(settings_panel(page).get_by_role("combobox", name="Event")).to_be_disabled()
    start = block(page, "Start")

    def offset() -> tuple[float, float]:
        """Where the block sits relative to Start: dragging the canvas pans both alike."""
        a, b = lead.bounding_box(), start.bounding_box()
        assert a
        assert b
        return round(a["x"] - b["x"]), round(a["y"] - b["y"])

    before = offset()
    box = lead.bounding_box()
    assert box
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + 160, steps=8)
    page.mouse.up()
    page.keyboard.press("Delete")
    expect(lead).to_have_count(1)
    assert offset() == before
    page.wait_for_timeout(1000)  # longer than the autosave's delay: nothing may be sent
    assert from_db(lambda: Flow.objects.get(pk=flow.pk).revision) == 1


def test_each_quick_reply_gets_its_own_output(
    page: Page, workspace: Tenant, bakery: ConnectedPage, lin: User
) -> None:
    flow = services.flow_create(
        tenant=workspace, actor=Actor(user=lin), page_id=bakery.pk, name="Menu"
    )
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    page.get_by_role("button", name="Send message", exact=True).click()
    form = settings_panel(page)
    form.get_by_role("combobox", name="Message").fill("Cake or bread?")
    for title in ("Cake", "Bread"):
        form.get_by_role("button", name="Add quick reply").click()
        form.get_by_role("group", name=re.compile(r"^Quick reply \d$")).last.get_by_role(
            "combobox", name="Title"
        ).fill(title)
    menu = block(page, "Send message: Cake or bread?")
    expect(menu.get_by_label("Cake output")).to_be_visible()
    expect(menu.get_by_label("Bread output")).to_be_visible()
    expect(menu.get_by_label("Next output")).to_be_visible()
    page.get_by_role("button", name="End", exact=True).click()
    place(page, block(page, "End"), 520, 400)
    # Wired from the keyboard: the inspector's "Then" lists every output.
    menu.locator(".block-head").click()
    settings_panel(page).get_by_label("Cake goes to").select_option(label="End")
    expect(menu.get_by_label("Any other answer output")).to_be_visible()
    saved(page)
    document = from_db(lambda: Flow.objects.get(pk=flow.pk).document)
    node = next(n for n in document["nodes"] if n["type"] == "send_message")
    replies = node["data"]["quick_replies"]
    assert [r["title"] for r in replies] == ["Cake", "Bread"]
    assert all(re.fullmatch(r"[a-z0-9]{6}", r["id"]) for r in replies)
    end = next(n for n in document["nodes"] if n["type"] == "end")
    assert {
        "source": node["id"],
        "sourceHandle": f"reply-{replies[0]['id']}",
        "target": end["id"],
    }.items() <= next(e for e in document["edges"] if e["source"] == node["id"]).items()
    # Removing the reply removes its wire with it.
    menu.locator(".block-head").click()
    settings_panel(page).get_by_role("button", name="Remove Quick reply 1").click()
    expect(menu.get_by_label("Cake output")).to_have_count(0)
    saved(page)
    assert from_db(lambda: Flow.objects.get(pk=flow.pk).document["edges"]) == []


def test_versions_open_read_only_compare_with_the_draft_and_restore(
    lead_flow: Flow,
    page: Page,
    workspace: Tenant,
    bakery: ConnectedPage,
    lin: User,
    screenshot_dir: Path,
) -> None:
    actor = Actor(user=lin)
    flow = lead_flow
    services.flow_publish(tenant=workspace, actor=actor, flow_id=flow.pk, note="", revision=1)
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")

    # Change the draft: a question reworded, the handoff removed, an End added.
    page.get_by_role("button", name="Fit View").click()  # it opens on Start: show it all
    block(page, "Ask a question: What are you looking for?").locator(".block-head").click()
    settings_panel(page).get_by_role("combobox", name="Question").fill("What brings you here?")
    block(page, "Hand off to a person").locator(".block-head").click()
    page.keyboard.press("Delete")
    page.get_by_role("button", name="End", exact=True).click()
    saved(page)

    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("region", name="Versions")
    versions.get_by_role("button", name="Compare version 1 with draft").click()
    banner = page.get_by_role("status").filter(has_text="Changes in the draft since version 1")
    expect(banner).to_contain_text("1 added, 1 changed, 1 removed")
    expect(block(page, "Ask a question: What brings you here?").locator(".block")).to_have_class(
        re.compile("diff-changed")
    )
    expect(block(page, "End").locator(".block")).to_have_class(re.compile("diff-added"))
    expect(block(page, "Hand off to a person").locator(".block")).to_have_class(
        re.compile("diff-removed")
    )
    page.screenshot(path=str(screenshot_dir / "editor-versions.png"))

    versions.get_by_role("button", name="Open version 1").click()
    expect(page.get_by_text("Version 1, read-only.").first).to_be_visible()
    expect(block(page, "Ask a question: What are you looking for?")).to_be_visible()
    expect(block(page, "End")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    versions.get_by_role("button", name="Restore version 1").click()
    # Until the server answers, the read-only version is what shows: wait for the draft.
    expect(page.get_by_text("Version 1 is in the draft now").first).to_be_attached()
    expect(page.get_by_text("Version 1, read-only.")).to_have_count(0)
    expect(block(page, "Ask a question: What are you looking for?")).to_be_visible()
    expect(block(page, "Hand off to a person")).to_have_count(1)
    expect(block(page, "End")).to_have_count(0)
    saved(page)
    draft = from_db(lambda: Flow.objects.get(pk=flow.pk).document)
    version = from_db(lambda: FlowVersion.objects.get(flow=flow, number=1).document)
    assert draft == version


def test_a_new_block_type_needs_no_editor_change(
    page: Page,
    workspace: Tenant,
    bakery: ConnectedPage,
    lin: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A throwaway block type, registered only for this test, gets a palette entry and a
    working form from its JSON Schema alone."""
    coupon = BlockType(
        type="coupon",
        label="Give a coupon",
        description="Sends a coupon code (a test-only block).",
        schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["code"],
            "properties": {
                "code": {"type": "string", "minLength": 1, "maxLength": 12, "title": "Coupon code"},
                "percent": {"type": "integer", "minimum": 1, "maximum": 90, "title": "Discount %"},
                "kind": {
                    "enum": ["once", "forever"],
                    "x-enumLabels": {"once": "One use", "forever": "Any number of uses"},
                    "default": "once",
                    "title": "Valid for",
                },
                "stackable": {"type": "boolean", "title": "Combines with other offers"},
            },
        },
        handles=(NEXT,),
        defaults={"code": "", "kind": "once"},
        step=lambda turn: StepResult(handle=NEXT.id),
    )
    monkeypatch.setitem(REGISTRY, "coupon", coupon)
    flow = services.flow_create(
        tenant=workspace, actor=Actor(user=lin), page_id=bakery.pk, name="Coupons"
    )
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    page.get_by_role("button", name="Give a coupon", exact=True).click()
    form = settings_panel(page)
    expect(form.get_by_role("heading", name="Give a coupon")).to_be_visible()
    code = form.get_by_role("combobox", name="Coupon code")
    code.fill("SPRING-SALE-2027")
    expect(form).to_contain_text("At most 12 characters (this has 16): shorten it.")
    expect(block(page, "Give a coupon").get_by_label("1 problem")).to_be_visible()
    code.fill("SPRING27")
    expect(form).not_to_contain_text("At most 12 characters")
    form.get_by_label("Discount %").fill("20")
    form.get_by_label("Valid for").select_option(label="Any number of uses")
    form.get_by_label("Combines with other offers").check()
    wire(page, block(page, "Start"), "Next", block(page, "Give a coupon"))
    saved(page)
    nodes = from_db(lambda: Flow.objects.get(pk=flow.pk).document["nodes"])
    node = next(n for n in nodes if n["type"] == "coupon")
    assert node["data"] == {"code": "SPRING27", "kind": "forever", "percent": 20, "stackable": True}


def test_copy_blocks_into_another_flow(
    lead_flow: Flow, page: Page, workspace: Tenant, bakery: ConnectedPage, lin: User
) -> None:
    actor = Actor(user=lin)
    source = lead_flow
    target = services.flow_create(
        tenant=workspace, actor=actor, page_id=bakery.pk, name="Second flow"
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{source.pk}/")
    page.get_by_role("button", name="Fit View").click()  # it opens on Start: show it all
    block(page, "Ask a question: What's your email address?").locator(".block-head").click()
    block(page, "Log event: Lead submitted").locator(".block-head").click(modifiers=[MOD])
    expect(settings_panel(page)).to_contain_text("2 blocks selected")
    page.keyboard.press(f"{MOD}+c")
    page.goto(f"/t/adas-bakery/flows/{target.pk}/")
    expect(block(page, "Start")).to_be_visible()
    page.keyboard.press(f"{MOD}+v")
    expect(block(page, "Ask a question: What's your email address?")).to_be_visible()
    expect(block(page, "Log event: Lead submitted")).to_be_visible()
    saved(page)
    document = from_db(lambda: Flow.objects.get(pk=target.pk).document)
    pasted = {n["id"]: n for n in document["nodes"] if n["type"] != "start"}
    assert sorted(n["type"] for n in pasted.values()) == ["ask", "log_event"]
    assert not set(pasted) & {"ask_email", "lead"}  # new ids, not the source's
    # The wire between the two came along, between the new ids.
    assert [(e["source"], e["target"]) for e in document["edges"]] == [
        (
            next(i for i, n in pasted.items() if n["type"] == "ask"),
            next(i for i, n in pasted.items() if n["type"] == "log_event"),
        )
    ]
    # Ctrl/Cmd+D duplicates what is selected; Ctrl/Cmd+Z takes it back.
    page.keyboard.press(f"{MOD}+d")
    expect(block(page, "Log event: Lead submitted")).to_have_count(2)
    page.keyboard.press(f"{MOD}+z")
    expect(block(page, "Log event: Lead submitted")).to_have_count(1)


def test_the_editor_at_laptop_and_phone_width(
    lead_flow: Flow,
    page: Page,
    workspace: Tenant,
    bakery: ConnectedPage,
    lin: User,
    screenshot_dir: Path,
) -> None:
    flow = lead_flow
    page.set_viewport_size({"width": 1366, "height": 800})
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    lead = block(page, "Log event: Lead submitted")
    # The README's picture: the middle of the flow, its Log event block selected.
    page.get_by_role("button", name="Fit View").click()
    for _ in range(4):
        page.wait_for_timeout(300)  # each zoom animates
        page.get_by_role("button", name="Zoom In").click()
    page.wait_for_timeout(300)
    lead.locator(".block-head").click()
    expect(settings_panel(page).get_by_role("combobox", name="Event")).to_have_value(
        "Lead submitted"
    )
    page.screenshot(path=str(screenshot_dir / "editor.png"))

    # A problem: the question emptied shows on the block, the field and in Problems.
    block(page, "Ask a question: What are you looking for?").locator(".block-head").click()
    settings_panel(page).get_by_role("combobox", name="Question").fill("")
    expect(block(page, "Ask a question").get_by_label("1 problem")).to_be_visible()
    expect(page.get_by_role("region", name="Problems")).to_contain_text(
        "This is empty: fill it in."
    )
    page.screenshot(path=str(screenshot_dir / "editor-problem.png"))
    # Publishing refuses, listing what to fix; nothing is published.
    saved(page)
    page.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Publish this flow")
    dialog.get_by_role("button", name="Publish").click()
    expect(dialog).to_contain_text("Fix these first; nothing was published:")
    expect(dialog).to_contain_text("This is empty: fill it in.")
    dialog.get_by_role("button", name="Cancel").click()
    assert not from_db(lambda: FlowVersion.objects.filter(flow=flow).exists())
    page.get_by_role("button", name="Undo").click()
    expect(block(page, "Ask a question: What are you looking for?")).to_be_visible()
    saved(page)

    # On a phone the editor reads only (the tests below): no sideways scroll.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(block(page, "Log event: Lead submitted")).to_be_attached()
    expect(page.get_by_role("region", name="Step by step")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_compare_two_published_versions(
    lead_flow: Flow, page: Page, workspace: Tenant, bakery: ConnectedPage, lin: User
) -> None:
    actor = Actor(user=lin)
    flow = lead_flow
    services.flow_publish(tenant=workspace, actor=actor, flow_id=flow.pk, note="", revision=1)
    document = Flow.objects.get(pk=flow.pk).document
    welcome = next(n for n in document["nodes"] if n["id"] == "welcome")
    welcome["data"]["text"] = "Hello! Two quick questions first."
    services.flow_update_draft(
        tenant=workspace, actor=actor, flow_id=flow.pk, revision=1, document=document
    )
    services.flow_publish(tenant=workspace, actor=actor, flow_id=flow.pk, note="", revision=2)
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("region", name="Versions")
    versions.get_by_label("Compare with").select_option(label="Version 2")
    versions.get_by_role("button", name="Compare version 1 with version 2").click()
    banner = page.get_by_role("status").filter(has_text="Changes in version 2 since version 1")
    expect(banner).to_contain_text("0 added, 1 changed, 0 removed")
    expect(block(page, "Send message: Hello! Two quick").locator(".block")).to_have_class(
        re.compile("diff-changed")
    )


def test_leaving_with_unsaved_changes_asks_first(
    page: Page, workspace: Tenant, bakery: ConnectedPage, lin: User
) -> None:
    flow = services.flow_create(
        tenant=workspace, actor=Actor(user=lin), page_id=bakery.pk, name="X"
    )
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")
    expect(block(page, "Start")).to_be_visible()
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay

    page.on("dialog", answer)
    page.get_by_label("Flow name").fill("Renamed")  # not saved yet: the save waits 0.7 s
    page.get_by_role("link", name="All flows").click()
    expect(page.get_by_label("Flow name")).to_be_visible()  # still here
    assert asked == ["beforeunload"]
    saved(page)
    page.get_by_label("About this flow").fill("Takes cake orders")
    saved(page)
    assert from_db(lambda: Flow.objects.get(pk=flow.pk).description) == "Takes cake orders"
    page.get_by_role("link", name="All flows").click()  # saved: leaves without asking
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
    assert asked == ["beforeunload"]


# The lead template in the order a conversation meets it: "Email" is the first way out of the
# contact question, so its branch reads to the end before the phone number's.
STEPS = [
    "Start",
    "Send message: Hi! We'd love to help. Two quick questions, then we'll put you in touch.",
    "Ask a question: What are you looking for?",
    "Ask a question: When would you like to get started?",
    "Ask a question: How should we contact you?",
    "Ask a question: What's your email address?",
    "Log event: Lead submitted",
    "Send message: Thank you! Someone from our team will contact you at {{contact}} shortly.",
    "Hand off to a person: New lead: {{need}}, starting {{timeline}}. Contact by {{channel}}: "
    "{{contact}}.",
    "Ask a question: What's the best phone number to reach you?",
]


def test_on_a_phone_the_editor_reads_the_flow_step_by_step(
    lead_flow: Flow,
    page: Page,
    bakery: ConnectedPage,
    lin: User,
    screenshot_dir: Path,
) -> None:
    flow = lead_flow
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "lin")
    page.goto(f"/t/adas-bakery/flows/{flow.pk}/")

    expect(page.get_by_role("note").filter(has_text="Editing needs a wider screen")).to_be_visible()
    expect(page.get_by_role("heading", name="Lead generation", exact=True)).to_be_visible()
    expect(page.get_by_text("Ada's Bakery · Keywords: quote, pricing, info")).to_be_visible()
    # Nothing to edit with: no palette, no forms, no undo, no publishing, no save state.
    expect(page.get_by_role("complementary", name="Blocks")).to_have_count(0)
    expect(page.get_by_role("region", name="Block settings")).to_have_count(0)
    expect(page.get_by_label("Flow name")).to_have_count(0)
    for name in ("Undo", "Tidy up", "Publish"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_text("Shift-drag selects several")).to_have_count(0)
    expect(page.get_by_role("region", name="Problems")).to_contain_text(
        "No problems: the draft is ready to be published."
    )

    steps = page.get_by_role("region", name="Step by step")
    expect(steps.get_by_role("button")).to_have_text(STEPS)
    contact = steps.get_by_role("listitem").filter(
        has=page.get_by_role("button", name="Ask a question: How should we contact you?")
    )
    expect(contact.get_by_role("listitem")).to_have_text(
        [
            "Email → Ask a question: What's your email address?",
            "Phone → Ask a question: What's the best phone number to reach you?",
            "Any other answer → Ask a question: What's the best phone number to reach you?",
        ]
    )
    handoff = steps.get_by_role("listitem").filter(has=page.get_by_role("button", name=STEPS[8]))
    expect(handoff.get_by_role("listitem")).to_have_text(
        ["After the agent → the conversation ends here"]
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshot_dir / "editor-phone.png"), full_page=True)

    # Pressing a step brings its block into view on the canvas, selected.
    lead = block(page, "Log event: Lead submitted")
    expect(lead).not_to_be_in_viewport()
    steps.get_by_role("button", name="Log event: Lead submitted").click()
    expect(lead).to_be_in_viewport()
    expect(page.locator(".react-flow__node.selected")).to_have_attribute("data-id", "lead")
    page.wait_for_timeout(400)  # the canvas animates to the block
    page.screenshot(path=str(screenshot_dir / "editor-phone-step.png"))

    # Delete removes nothing and a drag moves nothing: the draft on the server is unchanged.
    page.keyboard.press("Delete")
    expect(lead).to_have_count(1)
    box = lead.bounding_box()
    assert box
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 90, steps=8)
    page.mouse.up()
    page.wait_for_timeout(1000)  # longer than the autosave's delay: nothing may be sent
    assert from_db(lambda: Flow.objects.get(pk=flow.pk).revision) == 1

    # The test chat works by typing, so it is there on a phone too.
    page.get_by_role("button", name="Test", exact=True).click()
    chat = page.get_by_role("region", name="Test chat")
    chat.get_by_role("button", name="Start").click()
    expect(chat.get_by_role("log", name="Conversation")).to_contain_text(
        "What are you looking for?"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Turned to a laptop's width, the editor edits again, on the same page.
    page.set_viewport_size({"width": 1366, "height": 800})
    expect(page.get_by_role("note").filter(has_text="Editing needs a wider screen")).to_have_count(
        0
    )
    expect(page.get_by_role("complementary", name="Blocks")).to_be_visible()
    expect(page.get_by_label("Flow name")).to_be_enabled()
    expect(page.get_by_role("button", name="Publish", exact=True)).to_be_visible()
    page.get_by_role("button", name="Test", exact=True).click()  # back to the block settings
    expect(page.get_by_role("region", name="Block settings")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "editor-after-phone-1366.png"))


def test_a_viewer_on_a_phone_reads_without_being_told_to_find_a_wider_screen(
    lead_flow: Flow,
    page: Page,
    bakery: ConnectedPage,
) -> None:
    person("vic", lead_flow.tenant, "viewer")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "vic")
    page.goto(f"/t/adas-bakery/flows/{lead_flow.pk}/")
    expect(page.get_by_role("note")).to_have_text(
        re.compile("^Read it step by step, try it with Test and see its Results.$")
    )
    expect(page.get_by_role("region", name="Step by step").get_by_role("button")).to_have_count(
        len(STEPS)
    )
