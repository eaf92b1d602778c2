"""initial schema

Revision ID: ea46b4a86571
Revises: 
Create Date: 2026-11-23 13:52:40.456256

The audit table refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) through triggers, created here
with the same text as the models' create_all listeners.
"""
from alembic import op
import sqlalchemy as sa

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()",
]


# revision identifiers, used by Alembic.
revision = 'ea46b4a86571'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_blobs_sha256_length')),
    sa.CheckConstraint('size > 0', name=op.f('ck_blobs_size_positive')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs'))
    )
    op.create_table('centres',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centres')),
    sa.UniqueConstraint('code', name=op.f('uq_centres_code'))
    )
    op.create_table('credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('workflow_key', sa.String(length=40), nullable=False),
    sa.Column('title', sa.JSON(), nullable=False),
    sa.Column('description', sa.JSON(), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('awarding_body_name', sa.String(length=200), nullable=False),
    sa.Column('awarding_body_url', sa.String(length=300), nullable=True),
    sa.Column('awarding_body_country', sa.String(length=2), nullable=False),
    sa.Column('eqf_level', sa.Integer(), nullable=False),
    sa.Column('nqf_level', sa.String(length=20), nullable=True),
    sa.Column('credits_value', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('credits_system', sa.String(length=10), nullable=False),
    sa.Column('workload_hours', sa.Integer(), nullable=False),
    sa.Column('assessment_type', sa.JSON(), nullable=False),
    sa.Column('participation', sa.String(length=10), nullable=False),
    sa.Column('quality_assurance', sa.JSON(), nullable=False),
    sa.Column('identity_verification', sa.String(length=30), nullable=False),
    sa.Column('prerequisites', sa.JSON(), nullable=True),
    sa.Column('stackability', sa.JSON(), nullable=True),
    sa.Column('further_information', sa.JSON(), nullable=True),
    sa.Column('evidence_guidance', sa.JSON(), nullable=True),
    sa.Column('validity_years', sa.Integer(), nullable=True),
    sa.Column('source_digest', sa.String(length=64), nullable=False),
    sa.CheckConstraint("credits_system IN ('ECTS', 'ECVET', 'national')", name=op.f('ck_credentials_credit_system_known')),
    sa.CheckConstraint("identity_verification IN ('unsupervised_no_check', 'supervised_no_check', 'supervised_online', 'supervised_onsite')", name=op.f('ck_credentials_identity_check_known')),
    sa.CheckConstraint("participation IN ('onsite', 'online', 'blended')", name=op.f('ck_credentials_participation_known')),
    sa.CheckConstraint("status IN ('draft', 'published', 'retired')", name=op.f('ck_credentials_status_known')),
    sa.CheckConstraint('credits_value > 0', name=op.f('ck_credentials_credits_positive')),
    sa.CheckConstraint('eqf_level BETWEEN 1 AND 8', name=op.f('ck_credentials_eqf_level_range')),
    sa.CheckConstraint('workload_hours > 0', name=op.f('ck_credentials_workload_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_credentials_code_version'))
    )
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credentials_sector'), ['sector'], unique=False)

    op.create_table('workflow_versions',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', 'version', name=op.f('pk_workflow_versions'))
    )
    op.create_table('learning_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('credits', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('text', sa.JSON(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('esco', sa.JSON(), nullable=False),
    sa.CheckConstraint("kind IN ('knowledge', 'skill', 'responsibility_autonomy')", name=op.f('ck_learning_outcomes_kind_known')),
    sa.CheckConstraint('credits >= 0', name=op.f('ck_learning_outcomes_credits_not_negative')),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_learning_outcomes_credential_id_credentials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_outcomes')),
    sa.UniqueConstraint('credential_id', 'code', name=op.f('uq_learning_outcomes_credential_id_code'))
    )
    with op.batch_alter_table('learning_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_outcomes_credential_id'), ['credential_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('preferred_language', sa.String(length=5), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("preferred_language IN ('en', 'uk')", name=op.f('ck_users_language_known')),
    sa.CheckConstraint("role IN ('candidate', 'assessor', 'coordinator', 'admin')", name=op.f('ck_users_role_known')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_users_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('workflow_key', sa.String(length=40), nullable=False),
    sa.Column('workflow_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submission_round', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('awarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('awarded_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('awarded', 'partially_awarded', 'not_awarded', 'withdrawn')", name=op.f('ck_cases_outcome_known')),
    sa.CheckConstraint("outcome NOT IN ('awarded', 'partially_awarded') OR (awarded_at IS NOT NULL AND awarded_by_id IS NOT NULL)", name=op.f('ck_cases_awarded_has_date_and_user')),
    sa.CheckConstraint('(outcome IS NULL) = (closed_at IS NULL)', name=op.f('ck_cases_closed_iff_outcome')),
    sa.CheckConstraint('lock_version >= 1', name=op.f('ck_cases_lock_version_positive')),
    sa.ForeignKeyConstraint(['assessor_id'], ['users.id'], name=op.f('fk_cases_assessor_id_users')),
    sa.ForeignKeyConstraint(['awarded_by_id'], ['users.id'], name=op.f('fk_cases_awarded_by_id_users')),
    sa.ForeignKeyConstraint(['candidate_id'], ['users.id'], name=op.f('fk_cases_candidate_id_users')),
    sa.ForeignKeyConstraint(['coordinator_id'], ['users.id'], name=op.f('fk_cases_coordinator_id_users')),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_cases_credential_id_credentials')),
    sa.ForeignKeyConstraint(['workflow_key', 'workflow_version'], ['workflow_versions.key', 'workflow_versions.version'], name=op.f('fk_cases_workflow_key_workflow_version_workflow_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_assessor_id', ['assessor_id'], unique=False)
        batch_op.create_index('ix_cases_state', ['state'], unique=False)
        batch_op.create_index('uq_cases_open_candidate_credential', ['candidate_id', 'credential_id'], unique=True, sqlite_where=sa.text('outcome IS NULL'), postgresql_where=sa.text('outcome IS NULL'))

    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text_version', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consent_records_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_user_id'), ['user_id'], unique=False)

    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_user_open', ['user_id', 'revoked_at'], unique=False)

    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('from_state', sa.String(length=40), nullable=True),
    sa.Column('to_state', sa.String(length=40), nullable=True),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('length(hash) = 64 AND length(prev_hash) = 64', name=op.f('ck_audit_events_hash_lengths')),
    sa.CheckConstraint('seq >= 1', name=op.f('ck_audit_events_seq_positive')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_audit_events_case_id_cases')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_events_prev_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_case_id'), ['case_id'], unique=False)

    op.create_table('awards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('credits_total', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('full', 'partial')", name=op.f('ck_awards_kind_known')),
    sa.CheckConstraint('credits_total >= 0', name=op.f('ck_awards_credits_not_negative')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_awards_case_id_cases')),
    sa.ForeignKeyConstraint(['credential_id'], ['credentials.id'], name=op.f('fk_awards_credential_id_credentials')),
    sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_awards_holder_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_awards_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awards')),
    sa.UniqueConstraint('case_id', name=op.f('uq_awards_case_id')),
    sa.UniqueConstraint('number', name=op.f('uq_awards_number'))
    )
    op.create_table('case_claims',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('self_assessment', sa.String(length=12), nullable=True),
    sa.Column('story', sa.Text(), nullable=True),
    sa.CheckConstraint("self_assessment IS NULL OR self_assessment IN ('confident', 'partly', 'not_yet')", name=op.f('ck_case_claims_self_assessment_known')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_claims_case_id_cases')),
    sa.ForeignKeyConstraint(['outcome_id'], ['learning_outcomes.id'], name=op.f('fk_case_claims_outcome_id_learning_outcomes')),
    sa.PrimaryKeyConstraint('case_id', 'outcome_id', name=op.f('pk_case_claims'))
    )
    op.create_table('case_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=40), nullable=False),
    sa.Column('to_state', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_transitions_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_transitions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transitions')),
    sa.UniqueConstraint('case_id', 'sequence', name=op.f('uq_case_transitions_case_id_sequence'))
    )
    with op.batch_alter_table('case_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_transitions_case_id'), ['case_id'], unique=False)

    op.create_table('evidence_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('statement', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('blob_sha256', sa.String(length=64), nullable=True),
    sa.Column('original_name', sa.String(length=255), nullable=True),
    sa.Column('media_type', sa.String(length=100), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_round', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind <> 'file' OR (blob_sha256 IS NOT NULL AND media_type IS NOT NULL)", name=op.f('ck_evidence_items_file_has_blob')),
    sa.CheckConstraint("kind <> 'link' OR url IS NOT NULL", name=op.f('ck_evidence_items_link_has_url')),
    sa.CheckConstraint("kind <> 'statement' OR statement IS NOT NULL", name=op.f('ck_evidence_items_statement_has_text')),
    sa.CheckConstraint("kind IN ('file', 'statement', 'link', 'attestation')", name=op.f('ck_evidence_items_kind_known')),
    sa.CheckConstraint('submission_round >= 1', name=op.f('ck_evidence_items_round_positive')),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_evidence_items_blob_sha256_blobs')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_items_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_evidence_items_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_items')),
    sa.UniqueConstraint('id', 'case_id', name=op.f('uq_evidence_items_id_case_id'))
    )
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_items_case_id'), ['case_id'], unique=False)

    op.create_table('award_outcomes',
    sa.Column('award_id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('credits', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['award_id'], ['awards.id'], name=op.f('fk_award_outcomes_award_id_awards')),
    sa.ForeignKeyConstraint(['outcome_id'], ['learning_outcomes.id'], name=op.f('fk_award_outcomes_outcome_id_learning_outcomes')),
    sa.PrimaryKeyConstraint('award_id', 'outcome_id', name=op.f('pk_award_outcomes'))
    )
    op.create_table('evidence_links',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id', 'outcome_id'], ['case_claims.case_id', 'case_claims.outcome_id'], name=op.f('fk_evidence_links_case_id_outcome_id_case_claims')),
    sa.ForeignKeyConstraint(['item_id', 'case_id'], ['evidence_items.id', 'evidence_items.case_id'], name=op.f('fk_evidence_links_item_id_case_id_evidence_items')),
    sa.PrimaryKeyConstraint('item_id', 'outcome_id', name=op.f('pk_evidence_links'))
    )
    with op.batch_alter_table('evidence_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_links_case_id'), ['case_id'], unique=False)

    op.create_table('outcome_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('assessor_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('criteria_met', sa.JSON(), nullable=False),
    sa.Column('submission_round', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("verdict = 'met' OR (rationale IS NOT NULL AND length(rationale) > 0)", name=op.f('ck_outcome_decisions_rationale_unless_met')),
    sa.CheckConstraint("verdict IN ('met', 'not_met', 'more_evidence')", name=op.f('ck_outcome_decisions_verdict_known')),
    sa.ForeignKeyConstraint(['assessor_id'], ['users.id'], name=op.f('fk_outcome_decisions_assessor_id_users')),
    sa.ForeignKeyConstraint(['case_id', 'outcome_id'], ['case_claims.case_id', 'case_claims.outcome_id'], name=op.f('fk_outcome_decisions_case_id_outcome_id_case_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_decisions'))
    )
    with op.batch_alter_table('outcome_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_outcome_decisions_case_outcome', ['case_id', 'outcome_id'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_refuse_change()")
    with op.batch_alter_table('outcome_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_outcome_decisions_case_outcome')

    op.drop_table('outcome_decisions')
    with op.batch_alter_table('evidence_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_links_case_id'))

    op.drop_table('evidence_links')
    op.drop_table('award_outcomes')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_items_case_id'))

    op.drop_table('evidence_items')
    with op.batch_alter_table('case_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_transitions_case_id'))

    op.drop_table('case_transitions')
    op.drop_table('case_claims')
    op.drop_table('awards')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_case_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_user_open')

    op.drop_table('user_sessions')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_user_id'))

    op.drop_table('consent_records')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('uq_cases_open_candidate_credential', sqlite_where=sa.text('outcome IS NULL'), postgresql_where=sa.text('outcome IS NULL'))
        batch_op.drop_index('ix_cases_state')
        batch_op.drop_index('ix_cases_assessor_id')

    op.drop_table('cases')
    op.drop_table('users')
    with op.batch_alter_table('learning_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learning_outcomes_credential_id'))

    op.drop_table('learning_outcomes')
    op.drop_table('workflow_versions')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credentials_sector'))

    op.drop_table('credentials')
    op.drop_table('centres')
    op.drop_table('blobs')
