# Sourced by the AWS scripts (push-ecr, copy-registrator-image,
# fetch-lambda-extension, deploy-lambda): `run` prints each command as a shell
# would read it, then runs it unless dry_run=true, so --dry-run shows exactly
# what would happen; `usage` prints the script's header; `ecr_registry` checks
# the registry and the copy's name given or read from Terraform.

dry_run=false
# The copy's name: terraform/'s var.name, the namespace of its repositories.
name=greeter
name_given=false

# The script's header comment, from its second line to its first code line.
usage() {
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
  exit "${1:-2}"
}

# A word as the shell reads it: as is when that is safe, else quoted, in
# single quotes when it holds none.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,@+%-]+$ ]]; then
    printf '%s' "$1"
  elif [[ "$1" != *"'"* ]]; then
    printf "'%s'" "$1"
  else
    printf '%q' "$1"
  fi
}

# Words as one command line, each quoted as the shell reads it: to build a
# line for `run` out of several commands (a pipe).
line() {
  local out='' word
  for word in "$@"; do out+="${out:+ }$(quote "$word")"; done
  printf '%s' "$out"
}

# Prints a command line and runs it unless --dry-run. Several words are
# quoted one by one; a single argument is a whole line (a pipe, `||`) whose
# words are quoted already.
run() {
  local cmd=$1
  if [ $# -gt 1 ]; then cmd=$(line "$@"); fi
  printf '+ %s\n' "$cmd"
  "$dry_run" || eval "$cmd"
}

# Reads one output of a Terraform folder; it changes nothing, so it runs even
# on a dry run (the other commands are built from it).
terraform_output() { # DIR NAME
  printf '+ terraform -chdir=%s output -raw %s\n' "$(quote "$1")" "$2" >&2
  terraform -chdir="$1" output -raw "$2"
}

# Sets `registry`, its `region` and the copy's `name` from --registry and
# --name (`registry`, `name`) or --registry-from-terraform (`terraform_dir`:
# Terraform's ecr_registry and name outputs), or stops naming what is wrong.
# The repositories are REGISTRY/NAME/SERVICE.
ecr_registry() {
  local script
  script=$(basename "$0")
  if [ -n "$terraform_dir" ]; then
    [ -z "$registry" ] || { echo "$script: give --registry or --registry-from-terraform, not both" >&2; exit 2; }
    "$name_given" && { echo "$script: --name comes from Terraform with --registry-from-terraform" >&2; exit 2; }
    registry=$(terraform_output "$terraform_dir" ecr_registry)
    name=$(terraform_output "$terraform_dir" name)
  fi
  if [[ ! "$name" =~ ^[a-z][a-z0-9-]{0,10}[a-z0-9]$ ]]; then
    echo "$script: '$name' is not a copy's name (terraform/'s var.name: 2 to 12 lower-case letters, digits or -)" >&2
    exit 2
  fi
  [ -n "$registry" ] || usage
  if [[ ! "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$ ]]; then
    echo "$script: '$registry' is not an ECR registry (ACCOUNT.dkr.ecr.REGION.amazonaws.com)" >&2
    exit 2
  fi
  region=${BASH_REMATCH[1]}
}
