"""each assessor's open cases, kept with every change of a case's assessor or outcome (counted once here
from the cases)

Revision ID: 8d41f6a2c9e7
Revises: 5b7e2c91d4a0
Create Date: 2026-12-03 12:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8d41f6a2c9e7'
down_revision = '5b7e2c91d4a0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assessor_workloads',
    sa.Column('assessor_id', sa.Integer(), nullable=False),
    sa.Column('open_cases', sa.Integer(), nullable=False),
    sa.CheckConstraint('open_cases >= 0', name=op.f('ck_assessor_workloads_open_cases_not_negative')),
    sa.ForeignKeyConstraint(['assessor_id'], ['users.id'], name=op.f('fk_assessor_workloads_assessor_id_users')),
    sa.PrimaryKeyConstraint('assessor_id', name=op.f('pk_assessor_workloads'))
    )
    op.execute(
        "INSERT INTO assessor_workloads (assessor_id, open_cases) "
        "SELECT assessor_id, count(*) FROM cases WHERE outcome IS NULL AND assessor_id IS NOT NULL "
        "GROUP BY assessor_id"
    )


def downgrade():
    op.drop_table('assessor_workloads')
