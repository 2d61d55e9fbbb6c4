locals {
  # The controller's container as ECS holds it (its order among the containers is not promised).
  controller_container = one([for c in jsondecode(aws_ecs_task_definition.controller.container_definitions) : c if c.name == "controller"])
}

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.controller.name
}

output "desired_count" {
  description = "How many tasks the service runs."
  value       = aws_ecs_service.controller.desired_count
}

output "task_definition_arn" {
  description = "The task definition."
  value       = aws_ecs_task_definition.controller.arn
}

output "security_group_id" {
  description = "The controller's security group."
  value       = aws_security_group.controller.id
}

output "dns_name" {
  description = "The Cloud Map name Prometheus scrapes the tasks at (one A record each)."
  value       = "${aws_service_discovery_service.controller.name}.${var.service_discovery_namespace.name}"
}

output "environment" {
  description = "The controller container's environment, as the task definition holds it."
  value       = { for e in local.controller_container.environment : e.name => e.value }
}

output "secrets" {
  description = "The controller container's secrets (environment variable => Secrets Manager ARN), as the task definition holds them."
  value       = { for s in local.controller_container.secrets : s.name => s.valueFrom }
}

output "admitted" {
  description = "What the controller's group admits, as PROTOCOL:FROM-TO<GROUP."
  value       = toset(["${aws_vpc_security_group_ingress_rule.controller_from_prometheus.ip_protocol}:${aws_vpc_security_group_ingress_rule.controller_from_prometheus.from_port}-${aws_vpc_security_group_ingress_rule.controller_from_prometheus.to_port}<${aws_vpc_security_group_ingress_rule.controller_from_prometheus.referenced_security_group_id}"])
}

output "egress" {
  description = "Where the controller's group may go, as PROTOCOL:FROM-TO>GROUP or CIDR."
  value = toset(concat(
    [for r in concat([aws_vpc_security_group_egress_rule.controller_to_prometheus], aws_vpc_security_group_egress_rule.controller_to_consul) : "${r.ip_protocol}:${r.from_port}-${r.to_port}>${r.referenced_security_group_id}"],
    [for r in concat([aws_vpc_security_group_egress_rule.controller_https], values(aws_vpc_security_group_egress_rule.controller_to_consul_cidrs)) : "${r.ip_protocol}:${r.from_port}-${r.to_port}>${r.cidr_ipv4}"],
  ))
}
