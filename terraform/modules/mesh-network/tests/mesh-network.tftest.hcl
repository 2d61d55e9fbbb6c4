# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "server" {
  # A stand-in for the Consul server's security group (the dev-server module makes the real one).
  module {
    source = "./tests/server"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "admits_nothing_into_the_lambda_and_the_mesh_into_consul" {
  command = apply

  variables {
    name                             = "greeter-test"
    vpc_id                           = run.vpc.vpc_id
    consul_server_security_group_ids = [run.server.security_group_id]
  }

  assert {
    # Not the apps' ports, nor the metrics ports: those admit their callers by group elsewhere.
    condition     = output.mesh_admits == toset(["tcp:20000-20000", "tcp:8443-8443"])
    error_message = "mesh members must reach each other's Envoy public listener and the gateways only; got ${jsonencode(output.mesh_admits)}"
  }

  assert {
    condition     = output.lambda_egress == toset(["tcp:443-443>0.0.0.0/0"])
    error_message = "greeter-lambda may go out to 443 only (the mesh gateway is opened by group in mesh-gateway-lb); got ${jsonencode(output.lambda_egress)}"
  }

  assert {
    condition     = output.consul_server_ports == "8500-8503"
    error_message = "the Consul server must admit the mesh on 8500-8503; got ${jsonencode(output.consul_server_ports)}"
  }

  assert {
    condition     = output.mesh_security_group_id != output.lambda_security_group_id
    error_message = "greeter-lambda must not share the mesh's security group"
  }
}

run "opens_no_consul_group_for_servers_beyond_the_vpc" {
  command = apply

  variables {
    name                             = "greeter-test-ext"
    vpc_id                           = run.vpc.vpc_id
    consul_server_security_group_ids = []
  }

  assert {
    condition     = output.consul_server_ports == null && length(output.mesh_admits) == 2
    error_message = "with Consul beyond the VPC no rule goes on a server group; got ${jsonencode(output.consul_server_ports)}"
  }
}

run "refuses_a_vpc_id_that_is_not_one" {
  command = plan

  variables {
    name                             = "greeter-test"
    vpc_id                           = "10.0.0.0/16"
    consul_server_security_group_ids = [run.server.security_group_id]
  }

  expect_failures = [var.vpc_id]
}
