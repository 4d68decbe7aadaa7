"""Sectors, whose trend (shrinking / growing / neutral) changes with the crisis."""
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

TRENDS = ("shrinking", "growing", "neutral")

# The picture at the start of a crisis like 2020 (DESIGN.md).
DEFAULT_SECTORS = [
    ("care", "zorg en welzijn", "care", "growing"),
    ("logistics", "logistiek", "logistics", "growing"),
    ("food-retail", "supermarkten en levensmiddelen", "food retail", "growing"),
    ("education", "onderwijs", "education", "growing"),
    ("government", "overheid", "government", "growing"),
    ("hospitality", "horeca", "hospitality", "shrinking"),
    ("aviation", "luchtvaart", "aviation", "shrinking"),
    ("events", "evenementen", "events", "shrinking"),
    ("culture", "cultuur", "culture", "shrinking"),
    ("travel", "reizen", "travel", "shrinking"),
    ("retail", "detailhandel non-food", "non-food retail", "shrinking"),
    ("other", "overig", "other", "neutral"),
]


class Sector(db.Model):
    __tablename__ = "sectors"

    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name_nl: Mapped[str] = mapped_column(sa.String(120))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    trend: Mapped[str] = mapped_column(sa.String(12), default="neutral")

    __table_args__ = (sa.CheckConstraint("trend IN ('shrinking','growing','neutral')", name="ck_sectors_trend"),)

    def name(self, locale: str = "nl") -> str:
        return self.name_en if locale == "en" else self.name_nl
