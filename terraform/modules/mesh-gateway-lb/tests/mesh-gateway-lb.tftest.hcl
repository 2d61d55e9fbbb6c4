# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "groups" {
  module {
    source = "./tests/setup"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "an_internal_load_balancer_admits_greeter_lambda_only" {
  command = apply

  variables {
    name       = "greeter-test"
    vpc_id     = run.vpc.vpc_id
    subnet_ids = run.vpc.subnet_ids
    callers    = { greeter-lambda = run.groups.lambda_security_group_id }
  }

  assert {
    condition     = output.internal
    error_message = "the mesh gateway's load balancer must be internal: greeter-lambda calls it from the VPC"
  }

  assert {
    condition     = output.admitted == toset(["tcp:8443-8443<${run.groups.lambda_security_group_id}"])
    error_message = "the load balancer must admit greeter-lambda's group on 8443 and nothing else; got ${jsonencode(output.admitted)}"
  }

  assert {
    condition     = output.gateway_admits == "tcp:8443-8443<${output.security_group_id}"
    error_message = "the gateway task's own group must admit the load balancer's group on 8443; got ${output.gateway_admits}"
  }

  assert {
    condition     = output.callers_egress == toset(["tcp:8443-8443>${output.security_group_id}"])
    error_message = "greeter-lambda's group must reach the load balancer on 8443; got ${jsonencode(output.callers_egress)}"
  }

  assert {
    condition     = output.address == "${output.dns_name}:8443" && can(regex(":targetgroup/greeter-test-mesh-gateway/", output.target_group_arn))
    error_message = "CONSUL_MESH_GATEWAY_URI must be the load balancer's DNS name and 8443; got ${output.address}"
  }
}

run "refuses_no_caller" {
  command = plan

  variables {
    name       = "greeter-test"
    vpc_id     = run.vpc.vpc_id
    subnet_ids = run.vpc.subnet_ids
    callers    = {}
  }

  expect_failures = [var.callers]
}
