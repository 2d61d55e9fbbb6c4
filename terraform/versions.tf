# The composition: registry modules plus this repository's local modules.
# Module versions are pinned exactly in main.tf, lambda.tf and services.tf;
# why these, in this folder's README.md.
terraform {
  required_version = ">= 1.9" # validation blocks that read other variables

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100" # the vpc module 5.21 needs >= 5.79; the registrator's eventbridge 1.17.3, >= 4.7
    }
    # Used inside consul-ecs's dev-server: the CA, the bootstrap token, the wait for its ALB.
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    null = {
      source  = "hashicorp/null"
      version = "~> 3.2"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "greeter-mesh"
      Name      = var.name
      ManagedBy = "terraform"
    }
  }
}
