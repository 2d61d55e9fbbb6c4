# The mesh gateway's load balancer, in place of the one consul-ecs's
# gateway-task module makes. That one is internet-facing, has no security
# group of its own and targets the task by IP without client-IP preservation,
# so the task sees only the NLB's addresses: anyone on the internet reaches
# the gateway's port, and only mTLS stops them. greeter-lambda runs in the
# VPC's private subnets, so this one is internal, and its own security group
# admits only the callers' security groups (greeter-lambda's) on the
# gateway's port. The gateway task gets a group of its own admitting this load
# balancer alone on that port (the mesh's group admits only mesh members).

resource "aws_security_group" "lb" {
  name        = "${var.name}-mesh-gateway-lb"
  description = "${var.name} mesh gateway load balancer: in from greeter-lambda, out to the gateway task"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "lb_from_callers" {
  for_each = var.callers

  security_group_id            = aws_security_group.lb.id
  description                  = "${each.key}, a caller of the mesh gateway"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_vpc_security_group_egress_rule" "callers_to_lb" {
  for_each = var.callers

  security_group_id            = each.value
  description                  = "The ${var.name} mesh gateway's load balancer, for ${each.key}'s calls into the mesh"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_vpc_security_group_egress_rule" "lb_to_gateway" {
  security_group_id            = aws_security_group.lb.id
  description                  = "To the mesh gateway task and its health check"
  referenced_security_group_id = aws_security_group.gateway.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

# The gateway task's second group, beside the mesh's (which gives it its way
# out): in from this load balancer on the port, nothing else.
resource "aws_security_group" "gateway" {
  # checkov:skip=CKV2_AWS_5:attached to the mesh gateway's ECS service by consul-ecs's gateway-task module (security_groups)
  name        = "${var.name}-mesh-gateway"
  description = "${var.name} mesh gateway task: in from its load balancer only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_lb" {
  security_group_id            = aws_security_group.gateway.id
  description                  = "From the ${var.name} mesh gateway load balancer"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_lb" "this" {
  # checkov:skip=CKV_AWS_91:access logs need an S3 bucket with its own policy; the gateway's Envoy logs its connections
  # checkov:skip=CKV_AWS_150:a demo is torn down with terraform destroy, which deletion protection would block
  name               = "${var.name}-mesh-gateway"
  internal           = true
  load_balancer_type = "network"
  subnets            = var.subnet_ids
  # One gateway task, in one zone; greeter-lambda calls from every zone.
  enable_cross_zone_load_balancing = true
  security_groups                  = [aws_security_group.lb.id]
  tags                             = var.tags
}

resource "aws_lb_target_group" "this" {
  name        = "${var.name}-mesh-gateway"
  port        = var.port
  protocol    = "TCP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  # Off, as for every IP target over TCP by default: the task sees the load
  # balancer's address, which its security group admits by group.
  preserve_client_ip   = false
  deregistration_delay = 30
  tags                 = var.tags

  health_check {
    protocol = "TCP"
  }
}

resource "aws_lb_listener" "this" {
  # checkov:skip=CKV_AWS_2:TCP passthrough: every connection is mTLS end to end with certificates from Consul's CA, which a TLS listener would break
  # checkov:skip=CKV_AWS_103:as above, the TLS is Consul's own, not the load balancer's
  load_balancer_arn = aws_lb.this.arn
  port              = var.port
  protocol          = "TCP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}
