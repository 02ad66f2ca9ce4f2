-- Access control (docs/privacy.md): the five reader roles, the identity behind a connection,
-- and the key of the support schema's pseudonyms. The row-level security policies themselves
-- are dbt's (macros/access_control.sql), re-applied whenever a mart is rebuilt.

-- Roles are the cluster's, not the database's: made once, never altered here. A build role
-- without CREATEROLE gets an error saying which statement an administrator runs instead.
do $$
declare
    role_name text;
begin
    foreach role_name in array array[
        'analytics_org_admin', 'analytics_team_lead', 'analytics_developer',
        'analytics_bi_reader', 'analytics_support'
    ] loop
        if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
            begin
                execute format('create role %I nologin', role_name);
            exception when insufficient_privilege then
                raise exception 'role % is missing and % cannot create it', role_name, current_user
                    using hint = format('an administrator runs: create role %I nologin;', role_name);
            end;
        end if;
    end loop;
end
$$;

-- Nothing outside the build reads the landing schema.
revoke all on schema raw from public;

create schema if not exists privacy;
revoke all on schema privacy from public;
grant usage on schema privacy to
    analytics_org_admin, analytics_team_lead, analytics_developer, analytics_bi_reader;

-- The identity: the setting app.user_id when it holds a UUID, else null (no identity).
create function privacy.app_user_id() returns uuid
language sql stable parallel safe
as $$
    select case
        when setting ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then setting::uuid
    end
    from (select current_setting('app.user_id', true) as setting) as app
$$;

-- The identified user as the marts know them: an active (not deleted) user, or no row. It reads
-- analytics.users with its owner's rights, so that a policy can ask who the caller is without
-- the caller reading users; plpgsql, because analytics.users exists only after the first build.
create function privacy.app_identity()
returns table (user_id uuid, organization_id uuid, team_id uuid, user_role text)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    return query
        select users.id, users.organization_id, users.team_id, users.role::text
        from analytics.users as users
        where users.id = privacy.app_user_id() and not users.is_deleted;
end
$$;

-- The users an identified team lead answers for: the members of their team (deleted members
-- included, their past work is the team's), nobody for anyone else.
create function privacy.app_team_member_ids() returns setof uuid
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    return query
        select members.id
        from analytics.users as members
        inner join privacy.app_identity() as lead
            on members.organization_id = lead.organization_id
            and members.team_id = lead.team_id
        where lead.user_role = 'team_lead';
end
$$;

revoke all on function privacy.app_identity() from public;
revoke all on function privacy.app_team_member_ids() from public;
grant execute on function privacy.app_identity(), privacy.app_team_member_ids() to
    analytics_org_admin, analytics_team_lead, analytics_developer;

-- Pseudonyms: HMAC-SHA256 of an id under a key only the build role reads. The key is stored as
-- its two HMAC pads (RFC 2104), so that the function needs only the built-in sha256().
create table privacy.pseudonym_key (
    only_row boolean primary key default true check (only_row),
    inner_pad bytea not null check (length(inner_pad) = 64),
    outer_pad bytea not null check (length(outer_pad) = 64),
    set_at timestamptz not null default now()
);
revoke all on privacy.pseudonym_key from public;

create function privacy.set_pseudonym_key(new_key bytea) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    block bytea;
    inner_pad bytea;
    outer_pad bytea;
begin
    if new_key is null or length(new_key) = 0 then
        raise exception 'the pseudonym key is empty';
    end if;
    block := case when length(new_key) > 64 then sha256(new_key) else new_key end;
    block := block || decode(repeat('00', 64 - length(block)), 'hex');
    inner_pad := block;
    outer_pad := block;
    for i in 0..63 loop
        inner_pad := set_byte(inner_pad, i, get_byte(block, i) # 54);  -- 0x36
        outer_pad := set_byte(outer_pad, i, get_byte(block, i) # 92);  -- 0x5c
    end loop;
    insert into privacy.pseudonym_key (inner_pad, outer_pad) values (inner_pad, outer_pad)
    on conflict (only_row) do update
        set inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad, set_at = now()
        where (privacy.pseudonym_key.inner_pad, privacy.pseudonym_key.outer_pad)
            is distinct from (excluded.inner_pad, excluded.outer_pad);
end
$$;
revoke all on function privacy.set_pseudonym_key(bytea) from public;

-- A random key until WAREHOUSE_PSEUDONYM_KEY sets one (warehouse/privacy/pseudonyms.py): 32
-- bytes from two version-4 UUIDs (PostgreSQL's strong random source).
select privacy.set_pseudonym_key(decode(
    replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'
));

create function privacy.pseudonymize(id uuid) returns text
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select encode(sha256(key.outer_pad || sha256(key.inner_pad || convert_to(id::text, 'UTF8'))), 'hex')
    from privacy.pseudonym_key as key
$$;
revoke all on function privacy.pseudonymize(uuid) from public;
