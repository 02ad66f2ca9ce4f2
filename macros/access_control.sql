{#- Access control (docs/privacy.md). The roles, the identity functions and the pseudonym key
    come from migration 0007 (warehouse/ingest/migrations/); here, the row-level security of the
    marts, applied by each covered model's post-hook in the transaction that builds it, so that
    a rebuilt table is never readable without its policies. -#}

{% macro reader_roles() -%}
    {{ return(['analytics_org_admin', 'analytics_team_lead', 'analytics_developer',
               'analytics_bi_reader']) }}
{%- endmacro %}


{#- The identified user's organization when they are an organization admin (else null). -#}
{% macro admin_organization() -%}
    (select identity.organization_id from privacy.app_identity() as identity
     where identity.user_role = 'org_admin')
{%- endmacro %}


{#- The policies of one kind of mart, as {name: (roles, using)}. A row is visible when any policy
    of the caller's roles lets it through; no identity, no row (but for the BI reader). -#}
{% macro access_policies(kind) %}
    {%- set own_organization = "(select identity.organization_id from privacy.app_identity() as identity)" -%}
    {%- set own_user = "(select identity.user_id from privacy.app_identity() as identity)" -%}
    {#- an array (an init plan run once), not "in (select ...)": a hashed subplan filters each
        row, where "= any(array)" lets the planner read the team's rows by a user_id index -#}
    {%- set team_members = "any(array(select privacy.app_team_member_ids()))" -%}
    {%- set everything = {'bi_reader_all_rows': (['analytics_bi_reader'], 'true')} -%}
    {%- if kind == 'people' -%}
        {#- rows about one user: task_executions, user_analytics -#}
        {%- set policies = {
            'org_admin_organization_rows': (['analytics_org_admin'], 'organization_id = ' ~ admin_organization()),
            'team_lead_team_rows': (['analytics_team_lead'], 'user_id = ' ~ team_members),
            'developer_own_rows': (['analytics_developer'], 'user_id = ' ~ own_user),
        } -%}
    {%- elif kind == 'users' -%}
        {%- set policies = {
            'org_admin_organization_rows': (['analytics_org_admin'], 'organization_id = ' ~ admin_organization()),
            'team_lead_team_rows': (['analytics_team_lead'], 'id = ' ~ team_members),
            'developer_own_rows': (['analytics_developer'], 'id = ' ~ own_user),
        } -%}
    {%- elif kind == 'task_children' -%}
        {#- rows of a task (routing_decisions): visible with their task, under its policies -#}
        {%- set policies = {
            'rows_of_visible_tasks': (
                ['analytics_org_admin', 'analytics_team_lead', 'analytics_developer'],
                'task_execution_id in (select visible.id from ' ~ ref('task_executions').include(database=false) ~ ' as visible)'),
        } -%}
    {%- elif kind == 'organization_aggregates' -%}
        {%- set policies = {
            'org_admin_organization_rows': (['analytics_org_admin'], 'organization_id = ' ~ admin_organization()),
        } -%}
    {%- elif kind == 'budgets' -%}
        {#- an organization's budgets (team_id null) and its teams' -#}
        {%- set policies = {
            'org_admin_organization_rows': (['analytics_org_admin'], 'organization_id = ' ~ admin_organization()),
            'team_lead_team_rows': (
                ['analytics_team_lead'],
                'team_id = (select identity.team_id from privacy.app_identity() as identity)'),
        } -%}
    {%- elif kind == 'organizations' -%}
        {%- set policies = {
            'members_own_organization': (
                ['analytics_org_admin', 'analytics_team_lead', 'analytics_developer'],
                'id = ' ~ own_organization),
        } -%}
    {%- elif kind == 'teams' -%}
        {%- set policies = {
            'org_admin_organization_rows': (['analytics_org_admin'], 'organization_id = ' ~ admin_organization()),
            'members_own_team': (
                ['analytics_team_lead', 'analytics_developer'],
                'id = (select identity.team_id from privacy.app_identity() as identity)'),
        } -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("row_security: unknown kind '" ~ kind ~ "' (people, users, task_children, organization_aggregates, budgets, organizations, teams)") }}
    {%- endif -%}
    {%- do policies.update(everything) -%}
    {{ return(policies) }}
{% endmacro %}


{#- Post-hook: row-level security on {{ this }}. Idempotent and quiet on an unchanged table:
    each policy's name carries a digest of its definition, so a policy is created only when it
    is missing or its definition changed, and others are dropped; nothing is locked otherwise. -#}
{% macro row_security(kind) %}
    {%- set policies = access_policies(kind) -%}
    {%- set wanted = {} -%}
    {%- for name, policy in policies.items() -%}
        {%- set definition = 'for select to ' ~ policy[0] | join(', ') ~ ' using (' ~ policy[1] ~ ')' -%}
        {%- do wanted.update({name ~ '_' ~ local_md5(definition)[:8]: definition}) -%}
    {%- endfor -%}
do $row_security$
declare
    stale record;
begin
    if not (select relrowsecurity from pg_catalog.pg_class where oid = '{{ this }}'::regclass) then
        alter table {{ this }} enable row level security;
    end if;
    for stale in
        select policyname from pg_catalog.pg_policies
        where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
            and policyname <> all (array[{%- for name in wanted %}'{{ name }}'{{ ", " if not loop.last }}{% endfor -%}])
    loop
        execute format('drop policy %I on {{ this }}', stale.policyname);
    end loop;
    {%- for name, definition in wanted.items() %}
    if not exists (
        select from pg_catalog.pg_policies
        where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
            and policyname = '{{ name }}'
    ) then
        create policy {{ name }} on {{ this }} {{ definition }};
    end if;
    {%- endfor %}
end
$row_security$
{% endmacro %}


{#- Post-hook of the dashboard views: they read the marts with the caller's rights, so the
    marts' policies decide what a view shows. -#}
{% macro security_invoker() %}
    alter view {{ this }} set (security_invoker = true)
{% endmacro %}


{#- on-run-end: the reader roles may look into their schemas (tables are granted by each model's
    grants config); nobody else may. Schemas a selective run has not made yet are skipped. -#}
{% macro grant_schema_usage() %}
    {%- if execute -%}
do $schema_usage$
begin
    if exists (select from pg_catalog.pg_namespace where nspname = 'analytics') then
        grant usage on schema analytics to {{ reader_roles() | join(', ') }};
    end if;
    -- the live view asks who its caller is, whatever the reader role (visible_to_caller)
    grant execute on function privacy.app_identity(), privacy.app_team_member_ids()
        to analytics_bi_reader;
    if exists (select from pg_catalog.pg_namespace where nspname = 'support') then
        grant usage on schema support to analytics_support;
    end if;
end
$schema_usage$
    {%- endif -%}
{% endmacro %}


{#- The marts' row-level security as a condition, for a view that runs with its owner's rights
    (a view reading what the reader roles cannot, such as the live view): true for the BI
    reader, for the owner and anyone else in none of the reader roles (only the build role can
    read the view then), and for the identity each scoped role allows. current_user is the
    caller in a view's body. Each role test is a scalar subquery: an init plan, run once per
    query, where a bare pg_has_role() is run for every row. -#}
{% macro visible_to_caller(organization_column, user_column=none) -%}
    (
        {{ sees_every_row() }}
        or (
            (select pg_has_role(current_user, 'analytics_org_admin', 'member'))
            and {{ organization_column }} = {{ admin_organization() }}
        )
        {%- if user_column %}
        or (
            (select pg_has_role(current_user, 'analytics_team_lead', 'member'))
            and {{ user_column }} = any(array(select privacy.app_team_member_ids()))
        )
        or (
            (select pg_has_role(current_user, 'analytics_developer', 'member'))
            and {{ user_column }} = (select identity.user_id from privacy.app_identity() as identity)
        )
        {%- endif %}
    )
{%- endmacro %}


{#- visible_to_caller's first case: the callers who see every row (the BI reader, and the owner
    and anyone else in none of the reader roles). -#}
{% macro sees_every_row() -%}
    (
        (select pg_has_role(current_user, 'analytics_bi_reader', 'member'))
        or not (
            (select pg_has_role(current_user, 'analytics_org_admin', 'member'))
            or (select pg_has_role(current_user, 'analytics_team_lead', 'member'))
            or (select pg_has_role(current_user, 'analytics_developer', 'member'))
            or (select pg_has_role(current_user, 'analytics_support', 'member'))
        )
    )
{%- endmacro %}


{#- For a caller who does not see every row, a condition that each row visible_to_caller lets
    through meets, on indexed columns: the organization they administer, their team's people,
    themselves (a null, matching nothing, where their identity has none). Its role tests
    unknown when the query is planned, visible_to_caller alone makes PostgreSQL read every row;
    this one it reads by the columns' indexes (a bitmap OR). visible_to_caller still decides. -#}
{% macro rows_near_caller(organization_column, user_column) -%}
    (
        {{ organization_column }} = {{ admin_organization() }}
        or {{ user_column }} = any(array(
            select members.id from privacy.app_team_member_ids() as members (id)
            -- its team's people only for a team lead (the function reads users)
            where (select pg_has_role(current_user, 'analytics_team_lead', 'member'))
        ))
        or {{ user_column }} = (select identity.user_id from privacy.app_identity() as identity)
    )
{%- endmacro %}
