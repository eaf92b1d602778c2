from tests import factories
from validation.extensions import db
from validation.services import audit


def test_every_state_reachable(ctx):
    factories.load_catalog()
    who = factories.people()
    for state in factories.PATHS:
        case = factories.case_in_state(state, who, code="UA-BAKERY" if state != "draft" else "GE-WELD-MMA")
        assert case.state == state
        db.session.commit()
        if case.outcome is None and state != "draft":
            from validation.services import cases
            cases.fire(case.id, "withdraw", who["candidate"], "closing to reopen")
            db.session.commit()
    assert audit.verify_chain().intact
