# The front door: an internet-facing ALB that admits only ingress_cidrs and
# forwards to the ingress task's port, checking its /health.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "${var.name} load balancer: in from ingress_cidrs, out to ingress only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb_in" {
  for_each = toset(var.ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from an allowed network"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
}

resource "aws_vpc_security_group_egress_rule" "alb_to_ingress" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the ingress task and its health check"
  referenced_security_group_id = var.target_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port
}

resource "aws_vpc_security_group_ingress_rule" "ingress_from_alb" {
  security_group_id            = var.target_security_group_id
  description                  = "From the ${var.name} load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port
}

resource "aws_lb" "this" {
  # checkov:skip=CKV_AWS_91:access logs need an S3 bucket with its own policy; the ingress task logs every request already
  # checkov:skip=CKV_AWS_150:a demo is torn down with terraform destroy, which deletion protection would block
  # checkov:skip=CKV2_AWS_28:WAF is billed per rule and request; ingress_cidrs already limits who reaches it
  # checkov:skip=CKV2_AWS_20:HTTP only: a demo has no domain to hold a certificate for (add an HTTPS listener with ACM for real use)
  name                       = var.name
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  tags                       = var.tags
}

resource "aws_lb_target_group" "this" {
  # checkov:skip=CKV_AWS_378:traffic from the ALB to the task stays in the VPC; the service speaks plain HTTP, as in compose
  name                 = "${var.name}-tg"
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 15 # above ingress's 10 s drain: in-flight requests finish
  tags                 = var.tags

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  # checkov:skip=CKV_AWS_2:HTTP only: a demo has no domain to hold a certificate for (add an HTTPS listener with ACM for real use)
  # checkov:skip=CKV_AWS_103:no TLS on this listener, see CKV_AWS_2
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = "HTTP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}
