"""Stamps that change whenever a rarely changing list does, so that a page may keep that list between requests.

The queue page offers two hundred assessors, fifty credentials and the centres in its filters, and building
those choices cost more than the page's own query. Each app process keeps them, with the stamp they were built
under; every request reads the stamp (one primary-key row) and builds the choices again only when it differs.
The stamp is a new random number at each change, written in the transaction of the change itself (see
`validation.services.choices`), so a process can never mistake an old list for the current one: not after a
restore from a backup, not with several processes or machines sharing the database.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from validation.models.base import Base


class ReferenceStamp(Base):
    __tablename__ = "reference_stamps"

    #: What the stamp covers: "choices" (users, centres and credentials, the lists people choose from).
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger)
