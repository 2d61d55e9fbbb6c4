# The migration's four steps, each a switch; turn them on in order, one apply
# each (docs/aws.md walks through them). Off again in
# reverse order to step back.
deploy_ecs_services  = false # 1. ingress, greeter, greeting and name on ECS, in the mesh, behind the ALB
deploy_consul_lambda = false # 2. the Lambda registrator, the mesh gateway and the terminating gateway
deploy_lambda        = false # 3. greeter-lambda's role, extension layer and network (then scripts/deploy-lambda)
migrate_to_lambda    = false # 4. the terminating gateway may invoke greeter-lambda, and the migration controller runs (then split grant, and split rollout)
