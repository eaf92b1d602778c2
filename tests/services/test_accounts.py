"""Password hashes made with older, weaker parameters are upgraded at the next sign-in, and audited."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select

from tests import factories
from validation.extensions import db
from validation.models import AuditEvent
from validation.services import accounts


def test_weak_hash_is_upgraded_at_sign_in(ctx):
    user = factories.user("assessor")
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1).hash(factories.PASSWORD)
    db.session.commit()
    weak = user.password_hash

    assert accounts.authenticate("assessor@test.example", factories.PASSWORD) is user
    db.session.commit()

    assert user.password_hash != weak and user.password_hash.startswith("$argon2id$")
    assert not accounts._hasher.check_needs_rehash(user.password_hash)
    actions = db.session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert actions[-1] == "user.password_rehashed"


def test_current_hash_is_left_alone(ctx):
    user = factories.user("assessor")
    db.session.commit()
    before = user.password_hash
    count = db.session.query(AuditEvent).count()
    assert accounts.authenticate("assessor@test.example", factories.PASSWORD) is user
    db.session.commit()
    assert user.password_hash == before
    assert db.session.query(AuditEvent).count() == count
