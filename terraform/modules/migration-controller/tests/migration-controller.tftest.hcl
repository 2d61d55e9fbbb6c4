# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "setup" {
  module {
    source = "./tests/setup"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "cluster" {
  module {
    source = "../cluster"
  }

  variables {
    # Not another module test's name: the tests run side by side.
    name = "greeter-test-ctl"
  }
}

variables {
  name                = "greeter-test"
  image               = "123456789012.dkr.ecr.us-east-1.amazonaws.com/greeter-test/split:latest"
  ca_writer_image     = "public.ecr.aws/hashicorp/consul:1.22.2"
  consul_http_addr    = "https://greeter-test-consul.dc1:8501"
  consul_session_node = "consul-server"
  prometheus_url      = "http://prometheus.controller-test.internal:9090"
}

run "runs_two_tasks_that_prometheus_alone_reaches" {
  command = apply

  variables {
    vpc_id                           = run.vpc.vpc_id
    subnet_ids                       = run.vpc.subnet_ids
    cluster_arn                      = run.cluster.cluster_arn
    log_group_name                   = run.cluster.log_group_name
    consul_ca_cert_secret_arn        = run.setup.ca_secret_arn
    consul_token_secret_arn          = run.setup.token_secret_arn
    consul_server_security_group_ids = [run.setup.consul_security_group_id]
    prometheus_security_group_id     = run.setup.prometheus_security_group_id
    service_discovery_namespace      = run.setup.namespace
  }

  assert {
    condition     = output.desired_count == 2
    error_message = "two tasks expected, one to lead and one to take over; got ${output.desired_count}"
  }

  assert {
    condition     = output.admitted == toset(["tcp:9470-9470<${run.setup.prometheus_security_group_id}"])
    error_message = "the controller must admit Prometheus alone, on 9470; got ${jsonencode(output.admitted)}"
  }

  assert {
    # Consul's HTTPS, Prometheus's API, HTTPS out (image, secrets, logs,
    # webhooks); no Envoy, whose splitter is Consul's on AWS.
    condition = output.egress == toset([
      "tcp:8501-8501>${run.setup.consul_security_group_id}",
      "tcp:9090-9090>${run.setup.prometheus_security_group_id}",
      "tcp:443-443>0.0.0.0/0",
    ])
    error_message = "the controller may reach Consul, Prometheus and HTTPS only; got ${jsonencode(output.egress)}"
  }

  assert {
    condition = output.environment == {
      CONTROLLER_STORE    = "consul"
      CONTROLLER_TARGET   = "consul"
      CONTROLLER_PORT     = "9470"
      CONSUL_SESSION_NODE = "consul-server"
      PROMETHEUS_URL      = "http://prometheus.controller-test.internal:9090"
      CONSUL_HTTP_ADDR    = "https://greeter-test-consul.dc1:8501"
      CONSUL_CACERT       = "/consul-ca/ca.pem"
      LOG_FORMAT          = "json"
    }
    error_message = "the controller's environment is its contract (store and target consul, port 9470, the session's node, the judge, Consul over TLS); got ${jsonencode(output.environment)}"
  }

  assert {
    condition     = output.secrets == { CONSUL_HTTP_TOKEN = run.setup.token_secret_arn }
    error_message = "the token must come from its secret, and nothing else; got ${jsonencode(output.secrets)}"
  }

  assert {
    condition     = output.dns_name == "migration-controller.controller-test.internal"
    error_message = "Prometheus scrapes migration-controller.<namespace>; got ${output.dns_name}"
  }
}

run "reaches_servers_beyond_the_vpc_by_their_blocks" {
  command = apply

  variables {
    name                         = "greeter-test-ext"
    vpc_id                       = run.vpc.vpc_id
    subnet_ids                   = run.vpc.subnet_ids
    cluster_arn                  = run.cluster.cluster_arn
    log_group_name               = run.cluster.log_group_name
    consul_http_addr             = "https://consul.internal.example.com:443"
    consul_https_port            = 443
    consul_tls_server_name       = "server.dc2.consul"
    consul_session_node          = "consul-server-1"
    consul_cidrs                 = ["10.20.0.0/24"]
    consul_ca_cert_secret_arn    = run.setup.ca_secret_arn
    consul_token_secret_arn      = run.setup.token_secret_arn
    prometheus_security_group_id = run.setup.prometheus_security_group_id
    service_discovery_namespace  = run.setup.namespace
  }

  assert {
    condition = output.egress == toset([
      "tcp:443-443>10.20.0.0/24",
      "tcp:9090-9090>${run.setup.prometheus_security_group_id}",
      "tcp:443-443>0.0.0.0/0",
    ])
    error_message = "the controller must reach the servers' block on their HTTPS port; got ${jsonencode(output.egress)}"
  }

  assert {
    condition     = output.environment.CONSUL_TLS_SERVER_NAME == "server.dc2.consul" && output.environment.CONSUL_SESSION_NODE == "consul-server-1"
    error_message = "the server name and the session's node come from the inputs; got ${jsonencode(output.environment)}"
  }
}

run "refuses_consul_in_the_clear" {
  command = plan

  variables {
    vpc_id                           = run.vpc.vpc_id
    subnet_ids                       = run.vpc.subnet_ids
    cluster_arn                      = run.cluster.cluster_arn
    log_group_name                   = run.cluster.log_group_name
    consul_http_addr                 = "http://greeter-test-consul.dc1:8500"
    consul_ca_cert_secret_arn        = run.setup.ca_secret_arn
    consul_token_secret_arn          = run.setup.token_secret_arn
    consul_server_security_group_ids = [run.setup.consul_security_group_id]
    prometheus_security_group_id     = run.setup.prometheus_security_group_id
    service_discovery_namespace      = run.setup.namespace
  }

  expect_failures = [var.consul_http_addr]
}

run "refuses_consul_named_two_ways" {
  command = plan

  variables {
    vpc_id                           = run.vpc.vpc_id
    subnet_ids                       = run.vpc.subnet_ids
    cluster_arn                      = run.cluster.cluster_arn
    log_group_name                   = run.cluster.log_group_name
    consul_ca_cert_secret_arn        = run.setup.ca_secret_arn
    consul_token_secret_arn          = run.setup.token_secret_arn
    consul_server_security_group_ids = [run.setup.consul_security_group_id]
    consul_cidrs                     = ["10.20.0.0/24"]
    prometheus_security_group_id     = run.setup.prometheus_security_group_id
    service_discovery_namespace      = run.setup.namespace
  }

  expect_failures = [var.consul_server_security_group_ids]
}
