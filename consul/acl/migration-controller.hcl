# What the migration controller (`split controller`) needs, and nothing
# more: no agent, mesh, operator or ACL rights. On ECS its token comes from
# Secrets Manager (terraform/controller.tf makes the secret; docs/aws.md
# creates this policy and a token with that SecretID).

# The migration's state (greeter-mesh/migration/state) and the leader lock
# (greeter-mesh/migration/leader).
key_prefix "greeter-mesh/" {
  policy = "write"
}

# Sessions are keyed by node: the controller's binds to CONSUL_SESSION_NODE,
# consul-server on ECS's dev server. With Consul servers of your own, the
# walk-through writes your node's name here before creating the policy.
session "consul-server" {
  policy = "write"
}

# greeter's service-splitter, the only config entry it writes.
service "greeter" {
  policy = "write"
}

# The splitter's other target: writing a split to it takes read on it.
service "greeter-lambda" {
  policy = "read"
}
