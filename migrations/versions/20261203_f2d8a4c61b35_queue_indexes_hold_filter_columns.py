"""the queue's four ordering indexes also hold the columns its filters test (credential, candidate, assessor)

Revision ID: f2d8a4c61b35
Revises: e4b1c7d93a56
Create Date: 2026-12-03 18:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f2d8a4c61b35'
down_revision = 'e4b1c7d93a56'
branch_labels = None
depends_on = None

FILTERED = ['credential_id', 'candidate_id', 'assessor_id']
INDEXES = {
    'ix_cases_age': ['state_entered_at', 'id'],
    'ix_cases_state_age': ['state', 'state_entered_at', 'id'],
    'ix_cases_due': ['due_at', 'id'],
    'ix_cases_state_due': ['state', 'due_at', 'id'],
}


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns + FILTERED, unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
