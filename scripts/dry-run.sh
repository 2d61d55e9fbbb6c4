# Sourced by the AWS scripts (copy-registrator-image, fetch-lambda-extension,
# deploy-lambda): `run` prints each command as a shell would read it, then runs
# it unless dry_run=true, so --dry-run shows exactly what would happen.

dry_run=false

# A word as the shell reads it: as is when that is safe, else quoted.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=,@+%-]+$ ]]; then printf '%s' "$1"; else printf '%q' "$1"; fi
}

# Prints a command line and runs it unless --dry-run. Several words are
# quoted one by one; a single argument is a whole line (a pipe, `||`) whose
# words are quoted already.
run() {
  local line=$1 word
  if [ $# -gt 1 ]; then
    line=
    for word in "$@"; do line+="${line:+ }$(quote "$word")"; done
  fi
  printf '+ %s\n' "$line"
  "$dry_run" || eval "$line"
}

# Reads one output of a Terraform folder; it changes nothing, so it runs even
# on a dry run (the other commands are built from it).
terraform_output() { # DIR NAME
  printf '+ terraform -chdir=%s output -raw %s\n' "$(quote "$1")" "$2" >&2
  terraform -chdir="$1" output -raw "$2"
}
