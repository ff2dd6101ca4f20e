-- A user's groups are read by user (token exchange, policy, the admin API's user pages): group_members' key starts
-- with the group, so without this each read scanned every membership.
CREATE INDEX group_members_by_user ON group_members (user_id);
