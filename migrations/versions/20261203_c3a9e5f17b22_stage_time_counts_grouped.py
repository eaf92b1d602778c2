"""the figures of a period per group read from one covering index, in the order they are summed

Revision ID: c3a9e5f17b22
Revises: 8d41f6a2c9e7
Create Date: 2026-12-03 12:50:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3a9e5f17b22'
down_revision = '8d41f6a2c9e7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stage_time_counts', schema=None) as batch_op:
        batch_op.create_index('ix_stage_time_counts_grouped', ['grouping', 'value', 'stage', 'days', 'month', 'n'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('stage_time_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_time_counts_grouped')
