# What the terminating gateway needs to serve greeter-lambda: with ACLs on
# (default deny), Consul gives the gateway a certificate for a linked service
# only with service:write on it. `split grant` writes this policy (its name is
# this file's) and links it to consul-ecs's consul-ecs-terminating-gateway-role.
service "greeter-lambda" {
  policy = "write"
}
