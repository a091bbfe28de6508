"""Shop Registration referral links (seed 004)."""

from datetime import datetime

import strawberry

from datastore.documents import ReferralLinkDocument
from resolvers.context import Info
from resolvers.referrals import referral_path
from schema.enums import ReferralLinkKind

__all__ = ["ReferralLink", "ReferralLinkKind"]


@strawberry.type(
    description="A Shop Registration referral link: sellers who follow it are sent to TikTok "
    "Shop seller onboarding, and every visit is counted. Generated when the service is first "
    "published; it never changes afterwards."
)
class ReferralLink:
    id: strawberry.ID = strawberry.field(description="The link's id.")
    kind: ReferralLinkKind = strawberry.field(
        description="Which sellers the link onboards: LOCAL or CROSS_BORDER."
    )
    code: str = strawberry.field(description="The unguessable code that identifies the link.")
    created_at: datetime = strawberry.field(description="When the link was generated.")

    @classmethod
    def from_document(cls, document: ReferralLinkDocument) -> "ReferralLink":
        return cls(
            id=strawberry.ID(document["_id"]),
            kind=ReferralLinkKind(document["kind"]),
            code=document["code"],
            created_at=document["createdAt"],
        )

    @strawberry.field(
        description="The link to share with sellers: this gateway's `/r/<code>`, which "
        "redirects to the onboarding page while the service is live."
    )
    def url(self, info: Info) -> str:
        return info.context.base_url + referral_path(self.code)

    @strawberry.field(
        description="How many times sellers followed the link (visits while the service was "
        "not live are not counted)."
    )
    async def clicks(self, info: Info) -> int:
        count: int = await info.context.loaders.referral_clicks_by_link.load(str(self.id))
        return count
