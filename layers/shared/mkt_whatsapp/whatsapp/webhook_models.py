"""Meta's webhook payloads (``object: whatsapp_business_account``) as pydantic models.

Lenient on purpose: Meta adds fields without notice, so unknown fields are kept (``extra="allow"``) and
every list defaults to empty. A message's type-specific object (``text``, ``image``, …) stays a plain
mapping: :mod:`mkt_whatsapp.whatsapp.inbound_content` turns it into the API's ``content`` shape.

Since 2026 a sender may be known by a business-scoped user id (``user_id`` / ``from_user_id``, e.g.
``US.1349…``) with no phone number (``wa_id`` empty, ``from`` missing); both are optional here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MetaModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class Metadata(MetaModel):
    phone_number_id: str
    display_phone_number: str | None = None


class Profile(MetaModel):
    name: str | None = None
    username: str | None = None


class Contact(MetaModel):
    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    profile: Profile = Field(default_factory=Profile)


class MetaError(MetaModel):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None
    href: str | None = None


class InboundMessage(MetaModel):
    id: str
    type: str = "unknown"
    timestamp: str
    sender_phone: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    context: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    errors: list[MetaError] = Field(default_factory=list)

    def type_object(self) -> dict[str, Any]:
        """The type-specific object (``message[type]``), or an empty mapping."""
        value = (self.model_extra or {}).get(self.type)
        return value if isinstance(value, dict) else {}


class Status(MetaModel):
    id: str
    status: str
    timestamp: str
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    conversation: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None
    errors: list[MetaError] = Field(default_factory=list)


class ChangeValue(MetaModel):
    messaging_product: str | None = None
    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)
    errors: list[MetaError] = Field(default_factory=list)

    def contact_for(self, message: InboundMessage) -> Contact | None:
        """The ``contacts[]`` entry of a message's sender (matched by phone or user id)."""
        for contact in self.contacts:
            if message.sender_phone and contact.wa_id == message.sender_phone:
                return contact
            if message.from_user_id and contact.user_id == message.from_user_id:
                return contact
        return self.contacts[0] if len(self.contacts) == 1 else None


class TemplateChangeValue(MetaModel):
    """A template webhook's value (``field``: ``message_template_status_update``,
    ``message_template_quality_update`` or ``template_category_update``): the template by name and language
    (and Meta's id), and what changed: its status ``event`` (with ``reason``), its ``new_quality_score``, or
    its ``new_category`` (the category now, whether the notice is of a change made or to come)."""

    message_template_id: int | str | None = None
    message_template_name: str = Field(min_length=1)
    message_template_language: str = Field(min_length=1)
    event: str | None = None
    reason: str | None = None
    message_template_category: str | None = None
    previous_quality_score: str | None = None
    new_quality_score: str | None = None
    previous_category: str | None = None
    new_category: str | None = None
    correct_category: str | None = None


class Change(MetaModel):
    """One change of an entry: ``field: messages`` carries messages and statuses; the three template
    fields carry a template's change (other fields, such as account updates, are acknowledged and not
    processed)."""

    field: str
    value: ChangeValue | TemplateChangeValue


class Entry(MetaModel):
    """One entry: ``id`` is the WhatsApp Business Account; ``time`` (epoch seconds) when Meta sent the
    change, on template webhooks."""

    id: str
    time: int | None = None
    changes: list[Change] = Field(default_factory=list)


class WebhookDelivery(MetaModel):
    """A delivery as Meta posts it to ``POST /webhooks``. The receiver reads it with ``json`` (a delivery's
    cold start loads no pydantic) and queues each ``messages`` and template change; the inbound processor
    validates the change's ``value`` with :class:`ChangeValue` or :class:`TemplateChangeValue`. This model
    describes the whole delivery (the OpenAPI document's request body)."""

    object: str
    entry: list[Entry] = Field(default_factory=list)
