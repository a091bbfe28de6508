"""What a seller grants a partner, and whom to contact: shared by offers and authorizations.

Documents store these as ``settings: {authorizeObject, ticketAuthorization, tspAccess,
dataCompassAccess}`` and ``contact: {name?, email?, phone?}``.
"""

from collections.abc import Mapping
from typing import Any

import strawberry

from schema.enums import AuthorizeObject


@strawberry.type(description="Contact details of the seller: each may be left for the seller.")
class SellerContact:
    name: str | None = strawberry.field(description="Whom to contact.")
    email: str | None = strawberry.field(description="Their email address.")
    phone: str | None = strawberry.field(
        description="Their phone number: an optional + and digits only."
    )

    @classmethod
    def from_document(cls, contact: Mapping[str, Any] | None) -> "SellerContact | None":
        """The stored ``contact`` subdocument; ``None`` when none was given."""
        if not contact:
            return None
        return cls(name=contact.get("name"), email=contact.get("email"), phone=contact.get("phone"))


@strawberry.input(
    description="Contact details of the seller; every field is optional, and blank ones are "
    "dropped."
)
class SellerContactInput:
    name: str | None = strawberry.field(default=None, description="Whom to contact (100).")
    email: str | None = strawberry.field(default=None, description="Email address (254).")
    phone: str | None = strawberry.field(
        default=None,
        description="Phone number: an optional + and 6 to 20 digits; spaces and dashes are "
        "allowed and removed.",
    )

    def to_fields(self) -> dict[str, str | None]:
        """The input as ``resolvers.contact.check_contact`` takes it."""
        return {"name": self.name, "email": self.email, "phone": self.phone}


@strawberry.type(description="What a seller authorizes a partner to do.")
class AuthorizationSettings:
    authorize_object: AuthorizeObject = strawberry.field(
        description="Authorized on the seller's shops, TikTok accounts (TTUID), or both."
    )
    ticket_authorization: bool = strawberry.field(
        description="The partner may raise tickets for the seller on TikTok Partner Center."
    )
    tsp_access: bool = strawberry.field(
        description="The partner may log into the seller's Seller Center and operate it."
    )
    data_compass_access: bool = strawberry.field(
        description="The partner may access the seller's Data Compass in Seller Center."
    )

    @classmethod
    def from_document(cls, settings: Mapping[str, Any]) -> "AuthorizationSettings":
        """The stored ``settings`` subdocument."""
        return cls(
            authorize_object=AuthorizeObject(settings["authorizeObject"]),
            ticket_authorization=settings["ticketAuthorization"],
            tsp_access=settings["tspAccess"],
            data_compass_access=settings["dataCompassAccess"],
        )


@strawberry.input(
    description="What a seller authorizes a partner to do. Each setting is explicit: none is "
    "on (or off) unless it is sent."
)
class AuthorizationSettingsInput:
    authorize_object: AuthorizeObject = strawberry.field(
        description="SHOP, TTUID (TikTok accounts) or SHOP_AND_TTUID."
    )
    ticket_authorization: bool = strawberry.field(
        description="Whether the partner may raise tickets for the seller on Partner Center."
    )
    tsp_access: bool = strawberry.field(
        description="Whether the partner may log into Seller Center and operate it."
    )
    data_compass_access: bool = strawberry.field(
        description="Whether the partner may access Data Compass in Seller Center."
    )

    def to_document(self) -> dict[str, Any]:
        """The settings as documents store them."""
        return {
            "authorizeObject": self.authorize_object,
            "ticketAuthorization": self.ticket_authorization,
            "tspAccess": self.tsp_access,
            "dataCompassAccess": self.data_compass_access,
        }
