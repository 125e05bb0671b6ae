"""Salesforce Outbound Messages are SOAP: the envelope read safely, and the answers it expects.

A SOAP message holds no document type declaration, so any DTD is refused before anything in it
is read: no entity is expanded (billion laughs) and no external entity or file is fetched.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.http import HttpResponse

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100  # the outbound messaging WSDL: Notification maxOccurs="100"
MAX_FIELD_DEPTH = 4  # an sObject's fields are flat; a compound field nests once or twice
CONTENT_TYPE = "text/xml; charset=utf-8"

# What Salesforce waits for: without Ack true it retries the message for 24 hours.
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>\n"
)
FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">'
    "<soapenv:Body><soapenv:Fault>"
    "<faultcode>soapenv:Client</faultcode><faultstring>{reason}</faultstring>"
    "</soapenv:Fault></soapenv:Body></soapenv:Envelope>\n"
)


def soap_answer(status: int, data: dict[str, Any]) -> HttpResponse:
    """An accepted message: 200 and the Ack. A refused one keeps its status (401, 400) and says
    why in a SOAP Fault, which Salesforce shows under Outbound Messages → delivery status."""
    if status < 300:
        return HttpResponse(ACK, status=200, content_type=CONTENT_TYPE)
    reason = str(data.get("error") or "refused")
    if data.get("event_id"):
        reason += f" (stored as event {data['event_id']})"
    fault = FAULT.format(reason=escape(reason))
    return HttpResponse(fault, status=status, content_type=CONTENT_TYPE)


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2]


def _value(element: Element, depth: int = 1) -> Any:
    """A field as sent: its text; nil is None; a compound field an object of its parts."""
    if element.get(f"{{{XSI}}}nil") == "true":
        return None
    if len(element) and depth < MAX_FIELD_DEPTH:
        return {_local(child.tag): _value(child, depth + 1) for child in element}
    return (element.text or "").strip()


def envelope_parse(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """The outbound message as {organization_id, action_id, notifications: [{id, object_type,
    record}]}, and "" — or None and why the body is not one."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        return None, (
            f"body is refused: it holds a document type declaration or entities "
            f"({type(exc).__name__}); a SOAP message has none"
        )
    except ParseError as exc:
        return None, f"body is not well-formed XML: {exc}"
    message = None
    if root.tag == f"{{{SOAP_ENV}}}Envelope":
        envelope_body = root.find(f"{{{SOAP_ENV}}}Body")
        if envelope_body is not None:
            message = envelope_body.find(f"{{{OUTBOUND}}}notifications")
    if message is None:
        return None, (
            "body is not a Salesforce outbound message: no soapenv:Envelope/soapenv:Body/"
            f"notifications in the {OUTBOUND} namespace"
        )
    notifications = message.findall(f"{{{OUTBOUND}}}Notification")
    if len(notifications) > MAX_NOTIFICATIONS:
        return None, (
            f"body holds {len(notifications)} notifications; Salesforce sends at most "
            f"{MAX_NOTIFICATIONS}"
        )
    parsed = []
    for notification in notifications:
        sobject = notification.find(f"{{{OUTBOUND}}}sObject")
        xsi_type = sobject.get(f"{{{XSI}}}type", "") if sobject is not None else ""
        parsed.append(
            {
                "id": (notification.findtext(f"{{{OUTBOUND}}}Id") or "").strip(),
                # sf:Opportunity, or Opportunity without a prefix
                "object_type": xsi_type.rpartition(":")[2].strip(),
                "record": (
                    {_local(field.tag): _value(field) for field in sobject}
                    if sobject is not None
                    else {}
                ),
            }
        )
    return {
        "organization_id": (message.findtext(f"{{{OUTBOUND}}}OrganizationId") or "").strip(),
        "action_id": (message.findtext(f"{{{OUTBOUND}}}ActionId") or "").strip(),
        "notifications": parsed,
    }, ""
