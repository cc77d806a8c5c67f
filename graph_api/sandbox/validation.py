"""Request validation, as strict as the reference says Facebook is.

Pure functions: they take parsed parameters and either return the normalised request or raise a
GraphError worded the way Graph words it. Graph parameters arrive two ways, as JSON (a JSON body)
or as strings (query string, form body, a batch operation's body), where lists and objects are
JSON-encoded strings; `json_param` accepts both, so every validator does too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import GraphError, invalid_param, missing_param

# page_activities (reference §1.3, §1.4, §2.4)
EVENT_NAME_RE = re.compile(r"^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$")
EVENT_NAME_MD5_RE = re.compile(r"^[A-Fa-f0-9]{32}$")
LOGGING_SOURCES = ("MESSENGER_BOT", "DETECTION")
LOGGING_TARGETS = ("APP", "APP_AND_PAGE", "PAGE")
# Keys of a custom event that are Meta's own, not event parameters, and their types.
EVENT_META_KEYS = {
    "_eventName": "name",
    "_eventName_md5": "md5",
    "_valueToSum": "float",
    "_logTime": "int",
    "_implicitlyLogged": "int",
    "_isTimedEvent": "bool",
    "_session_id": "string",
    "_app_user_id": "string",
}

# Conversions API for Business Messaging (reference §3.3, §3.4)
CAPI_EVENT_NAMES = (
    "Purchase",
    "LeadSubmitted",
    "InitiateCheckout",
    "AddToCart",
    "ViewContent",
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "QualifiedLead",
    "RatingProvided",
    "ReviewProvided",
)
CAPI_MAX_EVENTS = 1000
CAPI_MAX_AGE_SECONDS = 7 * 24 * 3600
# Not in the reference: a small allowance for clock skew. Anything further ahead is almost surely
# milliseconds sent as seconds, a bug worth failing loudly in tests.
CAPI_MAX_FUTURE_SECONDS = 600
MESSAGING_CHANNELS = ("messenger", "whatsapp", "instagram")

# Send API (reference §6.5)
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG", "UTILITY")
LIVE_TAGS = ("HUMAN_AGENT", "CUSTOMER_FEEDBACK")
RETIRED_TAGS = ("ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen", "react", "unreact")
NOTIFICATION_TYPES = ("REGULAR", "SILENT_PUSH", "NO_PUSH")
QUICK_REPLY_TYPES = ("text", "user_phone_number", "user_email")
ATTACHMENT_TYPES = ("audio", "file", "image", "template", "video")
MAX_TEXT_CHARS = 2000  # "less than 2000 characters"
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD_CHARS = 1000
MAX_METADATA_CHARS = 1000

# subscribed_apps fields (reference §5.8 plus the usual Page webhook fields)
SUBSCRIBED_FIELDS = frozenset(
    {
        "messages",
        "messaging_postbacks",
        "messaging_referrals",
        "messaging_optins",
        "messaging_optouts",
        "message_echoes",
        "message_deliveries",
        "message_reads",
        "messaging_handovers",
        "standby",
        "messaging_account_linking",
        "messaging_policy_enforcement",
        "message_reactions",
        "message_edits",
        "messaging_in_thread_lead_form_submit",
        "messaging_feedback",
        "messaging_customer_information",
        "leadgen",
        "feed",
        "mention",
        "inbox_labels",
        "send_cart",
    }
)

# Insights (reference §8)
DATE_PRESETS = (
    "data_maximum",
    "last_14d",
    "last_28d",
    "last_30d",
    "last_3d",
    "last_7d",
    "last_90d",
    "last_month",
    "last_quarter",
    "last_week_mon_sun",
    "last_week_sun_sat",
    "last_year",
    "maximum",
    "this_month",
    "this_quarter",
    "this_week_mon_today",
    "this_week_sun_today",
    "this_year",
    "today",
    "yesterday",
)

# ISO 4217 active codes.
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XTS",
        "XUA",
        "XXX",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)


# --- Parameter coercion ------------------------------------------------------------------------


def json_param(params: dict[str, Any], name: str) -> Any:
    """A list/object parameter, decoding it when it arrived JSON-encoded in a string."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise invalid_param(f"Param {name} must be a valid JSON value") from exc
    return value


def unsigned_int(value: Any, name: str) -> str:
    """A Graph `unsigned int` (ids are sent as numbers or digit strings); returned as a string."""
    if isinstance(value, bool) or value is None:
        raise invalid_param(f"Param {name} must be a valid unsigned integer")
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise invalid_param(f"Param {name} must be a valid unsigned integer")


def bool_flag(value: Any, name: str) -> bool:
    """A Graph bool: true/false, 1/0, or their string forms."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("0", "1", "true", "false"):
        return value.lower() in ("1", "true")
    raise invalid_param(f"Param {name} must be a boolean (0, 1, true or false)")


def enum_param(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    """A Graph enum, matched case-insensitively (the guide sends lowercase, the spec is upper)."""
    if isinstance(value, str) and value.upper() in allowed:
        return value.upper()
    shown = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    raise invalid_param(f"Param {name} must be one of {{{', '.join(allowed)}}} - got {shown}")


def number(value: Any, name: str) -> float:
    """A Graph float: a JSON number or a numeric string, finite."""
    if isinstance(value, bool):
        raise invalid_param(f"Param {name} must be a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            raise invalid_param(f"Param {name} must be a number") from None
    else:
        raise invalid_param(f"Param {name} must be a number")
    if not math.isfinite(result):
        raise invalid_param(f"Param {name} must be a finite number")
    return result


def _int_value(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise invalid_param(f"Param {name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise invalid_param(f"Param {name} must be an integer")


# --- page_activities -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppEvent:
    """One entry of custom_events, split into Meta's keys and the event's parameters."""

    name: str
    value: float | None
    params: dict[str, str | int | float]
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PageActivities:
    """A valid page_activities call."""

    page_id: str
    psid: str
    logging_source: str | None
    logging_target: str
    advertiser_tracking_enabled: bool | None
    application_tracking_enabled: bool | None
    events: list[AppEvent]


def validate_page_activities(params: dict[str, Any]) -> PageActivities:
    """Check a page_activities call (reference §1.3-§1.6); raises (#100) on the first fault."""
    if params.get("page_scoped_user_id") in (None, ""):
        raise missing_param("page_scoped_user_id")
    psid = unsigned_int(params["page_scoped_user_id"], "page_scoped_user_id")
    # The spec marks page_id optional, but the guide requires it and without it the sandbox
    # could not tell which Page's token is the right one; Pagepulse always sends it.
    if params.get("page_id") in (None, ""):
        raise missing_param("page_id")
    page_id = unsigned_int(params["page_id"], "page_id")

    source = params.get("logging_source")
    logging_source = (
        None if source is None else enum_param(source, "logging_source", LOGGING_SOURCES)
    )
    target = params.get("logging_target")
    # Facebook's default is APP: an omitted target logs to the app, not the customer's Page.
    logging_target = (
        "APP" if target is None else enum_param(target, "logging_target", LOGGING_TARGETS)
    )

    flags: dict[str, bool | None] = {}
    for flag in ("advertiser_tracking_enabled", "application_tracking_enabled"):
        raw = params.get(flag)
        flags[flag] = None if raw is None else bool_flag(raw, flag)

    raw_events = json_param(params, "custom_events")
    if raw_events is None:
        raise missing_param("custom_events")
    if not isinstance(raw_events, list):
        raise invalid_param("Param custom_events must be an array")
    if not raw_events:
        raise invalid_param("Param custom_events must be a non-empty array")
    events = [_app_event(item, index) for index, item in enumerate(raw_events)]

    return PageActivities(
        page_id=page_id,
        psid=psid,
        logging_source=logging_source,
        logging_target=logging_target,
        advertiser_tracking_enabled=flags["advertiser_tracking_enabled"],
        application_tracking_enabled=flags["application_tracking_enabled"],
        events=events,
    )


def _app_event(item: Any, index: int) -> AppEvent:
    where = f"custom_events[{index}]"
    if not isinstance(item, dict):
        raise invalid_param(f"Param {where} must be an object")
    name = item.get("_eventName")
    if name is None:
        raise missing_param(f"{where}[_eventName]")
    if not isinstance(name, str) or not EVENT_NAME_RE.fullmatch(name):
        raise invalid_param(
            f"Param {where}[_eventName] must match the regular expression "
            f"/^[0-9a-zA-Z_][0-9a-zA-Z _-]{{0,39}}$/ - got {json.dumps(name)}"
        )
    value: float | None = None
    params: dict[str, str | int | float] = {}
    meta: dict[str, Any] = {}
    for key, raw in item.items():
        kind = EVENT_META_KEYS.get(key)
        field_name = f"{where}[{key}]"
        if kind == "name":
            continue
        if kind == "float":
            value = number(raw, field_name)
        elif kind == "md5":
            if not isinstance(raw, str) or not EVENT_NAME_MD5_RE.fullmatch(raw):
                raise invalid_param(f"Param {field_name} must match /^[A-Fa-f0-9]{{32}}$/")
            meta[key] = raw
        elif kind == "int":
            meta[key] = _int_value(raw, field_name)
        elif kind == "bool":
            meta[key] = bool_flag(raw, field_name)
        elif kind == "string":
            if not isinstance(raw, str | int):
                raise invalid_param(f"Param {field_name} must be a string")
            meta[key] = str(raw)
        else:
            if not EVENT_NAME_RE.fullmatch(key):
                raise invalid_param(
                    f"Param {where} has an invalid parameter name {json.dumps(key)}: names must "
                    f"match /^[0-9a-zA-Z_][0-9a-zA-Z _-]{{0,39}}$/"
                )
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                raise invalid_param(
                    f"Param {field_name}: parameter values must be a string or a number"
                )
            params[key] = raw
    return AppEvent(name=name, value=value, params=params, meta=meta)


# --- Conversions API -------------------------------------------------------------------------------


def capi_error(title: str, message: str) -> GraphError:
    """A Conversions API rejection: 'Invalid parameter' with the reason in error_user_*."""
    return GraphError("Invalid parameter", 100, user_title=title, user_msg=message)


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One valid Conversions API event for a Messenger dataset."""

    event_name: str
    event_time: int
    psid: str
    event_id: str | None
    custom_data: dict[str, Any] | None
    value: float | None
    currency: str | None


def validate_capi_events(
    params: dict[str, Any], dataset_page_id: str, now: float
) -> list[ServerEvent]:
    """Check a /{dataset}/events call; one bad event rejects the whole request (reference §3.3)."""
    data = json_param(params, "data")
    if data is None:
        raise missing_param("data")
    if not isinstance(data, list) or not data:
        raise invalid_param("Param data must be a non-empty array of events")
    if len(data) > CAPI_MAX_EVENTS:
        raise invalid_param(
            f"Param data must contain at most {CAPI_MAX_EVENTS} events, got {len(data)}"
        )
    for optional in ("partner_agent", "test_event_code"):
        if optional in params and not isinstance(params[optional], str):
            raise invalid_param(f"Param {optional} must be a string")
    return [_server_event(item, index, dataset_page_id, now) for index, item in enumerate(data)]


def _server_event(item: Any, index: int, page_id: str, now: float) -> ServerEvent:
    at = f"data[{index}]"
    if not isinstance(item, dict):
        raise capi_error("Invalid Event", f"{at} must be an object.")
    for required in ("event_name", "event_time", "action_source", "user_data"):
        if item.get(required) in (None, ""):
            raise capi_error("Missing Parameter", f"{at}: the parameter {required} is required.")

    name = item["event_name"]
    if name not in CAPI_EVENT_NAMES:
        raise capi_error(
            "Unsupported Event Name",
            f"{at}: event_name {json.dumps(name)} is not supported for business messaging. "
            f"Supported: {', '.join(CAPI_EVENT_NAMES)}.",
        )

    event_time = item["event_time"]
    if isinstance(event_time, str) and event_time.isascii() and event_time.isdigit():
        event_time = int(event_time)
    if isinstance(event_time, bool) or not isinstance(event_time, int):
        raise capi_error("Invalid Event Time", f"{at}: event_time must be a Unix time in seconds.")
    if event_time < now - CAPI_MAX_AGE_SECONDS:
        raise capi_error(
            "Event Timestamp Too Old",
            f"{at}: the timestamp for this event is too far in the past. Events need to be sent "
            f"from your server within 7 days of when they occurred.",
        )
    if event_time > now + CAPI_MAX_FUTURE_SECONDS:
        raise capi_error(
            "Event Timestamp In The Future",
            f"{at}: event_time {event_time} is in the future. Send Unix time in seconds, "
            f"not milliseconds.",
        )

    if item["action_source"] != "business_messaging":
        raise capi_error(
            "Invalid Action Source",
            f"{at}: action_source must be business_messaging for a Page's messaging dataset, "
            f"got {json.dumps(item['action_source'])}.",
        )
    channel = item.get("messaging_channel")
    if channel in (None, ""):
        raise capi_error(
            "Missing Messaging Channel Parameter",
            "A messaging channel parameter is required when provided action source is "
            "business_messaging. Valid value could be messenger, whatsapp and instagram.",
        )
    if channel not in MESSAGING_CHANNELS:
        raise capi_error(
            "Invalid Messaging Channel Parameter",
            f"{at}: messaging_channel {json.dumps(channel)} is invalid. Valid value could be "
            f"messenger, whatsapp and instagram.",
        )
    if channel != "messenger":
        raise capi_error(
            "Invalid Messaging Channel Parameter",
            f"{at}: this dataset belongs to a Facebook Page; messaging_channel must be messenger.",
        )

    user_data = item["user_data"]
    if not isinstance(user_data, dict):
        raise capi_error("Invalid User Data", f"{at}: user_data must be an object.")
    if user_data.get("page_id") in (None, ""):
        raise capi_error("Missing Page ID", f"{at}: user_data.page_id is required for messenger.")
    if str(user_data["page_id"]) != page_id:
        raise capi_error(
            "Page ID Mismatch",
            f"{at}: user_data.page_id {user_data['page_id']} is not the Page of this dataset "
            f"({page_id}).",
        )
    psid = user_data.get("page_scoped_user_id")
    if psid in (None, ""):
        raise capi_error(
            "Missing Page Scoped User ID",
            f"{at}: user_data.page_scoped_user_id is required for messenger.",
        )
    if isinstance(psid, bool) or not str(psid).isdigit():
        raise capi_error(
            "Invalid Page Scoped User ID", f"{at}: user_data.page_scoped_user_id must be numeric."
        )

    event_id = item.get("event_id")
    if event_id is not None and (isinstance(event_id, bool) or not isinstance(event_id, str | int)):
        raise capi_error("Invalid Event ID", f"{at}: event_id must be a string.")

    custom_data = item.get("custom_data")
    value: float | None = None
    currency: str | None = None
    if custom_data is not None:
        if not isinstance(custom_data, dict):
            raise capi_error("Invalid Custom Data", f"{at}: custom_data must be an object.")
        if "currency" in custom_data:
            currency = custom_data["currency"]
            if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
                raise capi_error(
                    "Invalid Currency Code",
                    f"{at}: custom_data.currency must be an ISO 4217 code, got "
                    f"{json.dumps(currency)}.",
                )
            currency = currency.upper()
        if "value" in custom_data:
            raw_value = custom_data["value"]
            if isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
                raise capi_error("Invalid Value", f"{at}: custom_data.value must be a number.")
            if not math.isfinite(raw_value):
                raise capi_error("Invalid Value", f"{at}: custom_data.value must be finite.")
            value = float(raw_value)

    return ServerEvent(
        event_name=name,
        event_time=event_time,
        psid=str(psid),
        event_id=None if event_id is None else str(event_id),
        custom_data=custom_data,
        value=value,
        currency=currency,
    )


# --- Send API --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A valid Send API call."""

    psid: str
    messaging_type: str | None
    tag: str | None
    sender_action: str | None


def validate_send(params: dict[str, Any]) -> SendRequest:
    """Check a Send API call (reference §6.5)."""
    recipient = json_param(params, "recipient")
    if recipient is None:
        raise missing_param("recipient")
    if not isinstance(recipient, dict):
        raise invalid_param("Param recipient must be an object")
    if "id" not in recipient:
        # user_ref, comment_id and post_id exist on Facebook; Pagepulse only sends to PSIDs.
        raise invalid_param("Param recipient[id] is required (the sandbox only supports PSIDs)")
    psid = unsigned_int(recipient["id"], "recipient[id]")

    message = json_param(params, "message")
    sender_action = params.get("sender_action")
    if sender_action is not None:
        if message is not None:
            raise invalid_param("sender_action must be sent without message, in its own request")
        if sender_action not in SENDER_ACTIONS:
            raise invalid_param(
                f"Param sender_action must be one of {{{', '.join(SENDER_ACTIONS)}}} - got "
                f'"{sender_action}"'
            )
        return SendRequest(psid, None, None, str(sender_action))

    if params.get("messaging_type") in (None, ""):
        raise missing_param("messaging_type")
    messaging_type = params["messaging_type"]
    if messaging_type not in MESSAGING_TYPES:
        raise invalid_param(
            f"Param messaging_type must be one of {{{', '.join(MESSAGING_TYPES)}}} - got "
            f"{json.dumps(messaging_type)}"
        )
    tag = params.get("tag")
    if tag in RETIRED_TAGS:
        raise invalid_param(
            f"The message tag {tag} is no longer supported (retired April 27, 2026)"
        )
    if messaging_type == "MESSAGE_TAG":
        if tag is None:
            raise missing_param("tag")
        if tag not in LIVE_TAGS:
            raise invalid_param(
                f"Param tag must be one of {{{', '.join(LIVE_TAGS)}}} - got {json.dumps(tag)}"
            )
    elif tag is not None:
        raise invalid_param("Param tag is only allowed with messaging_type MESSAGE_TAG")

    notification = params.get("notification_type")
    if notification is not None and notification not in NOTIFICATION_TYPES:
        raise invalid_param(
            f"Param notification_type must be one of {{{', '.join(NOTIFICATION_TYPES)}}} - got "
            f"{json.dumps(notification)}"
        )
    if message is None:
        raise missing_param("message")
    _check_message(message, messaging_type)
    return SendRequest(psid, str(messaging_type), tag, None)


def _check_message(message: Any, messaging_type: str) -> None:
    if not isinstance(message, dict):
        raise invalid_param("Param message must be an object")
    has_text, has_attachment = "text" in message, "attachment" in message
    if has_text == has_attachment:
        raise invalid_param("Param message must have exactly one of text or attachment")
    if has_text:
        text = message["text"]
        if not isinstance(text, str) or not text:
            raise invalid_param("Param message[text] must be a non-empty string")
        if len(text) >= MAX_TEXT_CHARS:
            raise invalid_param(
                f"Param message[text] must be UTF-8 and less than {MAX_TEXT_CHARS} characters"
            )
    else:
        attachment = message["attachment"]
        if not isinstance(attachment, dict) or attachment.get("type") not in ATTACHMENT_TYPES:
            raise invalid_param(
                f"Param message[attachment][type] must be one of {{{', '.join(ATTACHMENT_TYPES)}}}"
            )
        if not isinstance(attachment.get("payload"), dict):
            raise missing_param("message[attachment][payload]")
    if messaging_type == "UTILITY" and not (
        has_attachment and message["attachment"]["type"] == "template"
    ):
        raise invalid_param("messaging_type UTILITY is only for utility template messages")
    metadata = message.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, str) or len(metadata) >= MAX_METADATA_CHARS
    ):
        raise invalid_param(
            f"Param message[metadata] must be a string of less than {MAX_METADATA_CHARS} characters"
        )
    quick_replies = message.get("quick_replies")
    if quick_replies is None:
        return
    if not isinstance(quick_replies, list) or not quick_replies:
        raise invalid_param("Param message[quick_replies] must be a non-empty array")
    if len(quick_replies) > MAX_QUICK_REPLIES:
        raise invalid_param(
            f"Param message[quick_replies] must have at most {MAX_QUICK_REPLIES} elements"
        )
    for index, reply in enumerate(quick_replies):
        at = f"message[quick_replies][{index}]"
        if not isinstance(reply, dict) or reply.get("content_type") not in QUICK_REPLY_TYPES:
            raise invalid_param(
                f"Param {at}[content_type] must be one of {{{', '.join(QUICK_REPLY_TYPES)}}}"
            )
        if reply["content_type"] != "text":
            continue
        title, payload = reply.get("title"), reply.get("payload")
        if not isinstance(title, str) or not title:
            raise missing_param(f"{at}[title]")
        if len(title) > MAX_QUICK_REPLY_TITLE:
            raise invalid_param(f"Param {at}[title] has a {MAX_QUICK_REPLY_TITLE} character limit")
        if payload is None or payload == "":
            raise missing_param(f"{at}[payload]")
        if not isinstance(payload, str | int) or len(str(payload)) > MAX_PAYLOAD_CHARS:
            raise invalid_param(f"Param {at}[payload] has a {MAX_PAYLOAD_CHARS} character limit")


# --- Other list parameters ---------------------------------------------------------------------------


def subscribed_fields(params: dict[str, Any]) -> list[str]:
    """subscribed_fields as a comma-separated string or a JSON array; required, each known."""
    raw = params.get("subscribed_fields")
    if raw in (None, "", []):
        raise missing_param("subscribed_fields")
    if isinstance(raw, str):
        raw = json_param(params, "subscribed_fields") if raw.startswith("[") else raw.split(",")
    if not isinstance(raw, list):
        raise invalid_param("Param subscribed_fields must be a list")
    fields: list[str] = []
    for index, item in enumerate(raw):
        name = str(item).strip()
        if name not in SUBSCRIBED_FIELDS:
            raise invalid_param(
                f"Param subscribed_fields[{index}] must be one of {{{', '.join(sorted(SUBSCRIBED_FIELDS))}}} "
                f"- got {json.dumps(name)}"
            )
        if name not in fields:
            fields.append(name)
    return fields


def field_list(
    params: dict[str, Any], allowed: tuple[str, ...], node: str, default: tuple[str, ...]
) -> list[str]:
    """The `fields` parameter, each checked against what the node has."""
    raw = params.get("fields")
    if raw in (None, ""):
        return list(default)
    names = [name.strip() for name in str(raw).split(",") if name.strip()]
    for name in names:
        if name not in allowed:
            raise invalid_param(f"Tried accessing nonexisting field ({name}) on node type ({node})")
    return names
