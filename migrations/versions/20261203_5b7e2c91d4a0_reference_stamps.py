"""a stamp that changes with every change to users, centres and credentials, so busy pages may keep the
lists people choose from between requests

Revision ID: 5b7e2c91d4a0
Revises: 1dfa2d06a929
Create Date: 2026-12-03 12:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c91d4a0'
down_revision = '1dfa2d06a929'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reference_stamps',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('stamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_reference_stamps'))
    )


def downgrade():
    op.drop_table('reference_stamps')
