"""candidate profiles

Revision ID: c48370d92625
Revises: ea46b4a86571
Create Date: 2026-11-23 15:37:31.230972

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c48370d92625'
down_revision = 'ea46b4a86571'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('candidate_profiles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('contact_by_email', sa.Boolean(), nullable=False),
    sa.Column('contact_by_phone', sa.Boolean(), nullable=False),
    sa.Column('target_group', sa.String(length=20), nullable=True),
    sa.Column('accessibility_needs', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("target_group IS NULL OR target_group IN ('displaced', 'career_changer', 'other')", name=op.f('ck_candidate_profiles_target_group_known')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_candidate_profiles_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_candidate_profiles'))
    )


def downgrade():
    op.drop_table('candidate_profiles')
