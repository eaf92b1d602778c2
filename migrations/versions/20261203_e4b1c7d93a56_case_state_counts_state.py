"""the counts per state of all credentials summed from one covering index, in its order

Revision ID: e4b1c7d93a56
Revises: c3a9e5f17b22
Create Date: 2026-12-03 16:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e4b1c7d93a56'
down_revision = 'c3a9e5f17b22'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_state_counts', schema=None) as batch_op:
        batch_op.create_index('ix_case_state_counts_state', ['state', 'n'], unique=False)


def downgrade():
    with op.batch_alter_table('case_state_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_state_counts_state')
