"""Live-session revocation (the kill switch): an inline Deny policy on each profile role.

`policy` builds the document (pure); `services` records revocations, pushes the policy to IAM
and decides which sessions a change of access revokes. The policy name is fixed and
documented: `RolegateRevokedSessions`.
"""
