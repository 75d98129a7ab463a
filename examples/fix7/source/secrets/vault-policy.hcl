# Vault policy for the FIX7 production secrets (policy export; no secret values).
path "secret/data/fix7/prod/*" {
  capabilities = ["read"]
}
path "secret/data/fix7/prod/rotation/*" {
  capabilities = ["create", "update"]   # rotation only, by the security on-call
}
