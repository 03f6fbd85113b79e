#!/usr/bin/env bash
# The main job, end to end, on a fresh machine with no AWS account: start the
# local IAM and SMTP endpoints, create SMTP credentials, prove they
# authenticate, then list, rotate and delete; then the same through a
# Secrets Manager secret, rotated in place.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
iam_pid= smtp_pid=
cleanup() {
  for pid in $smtp_pid $iam_pid; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# The demo's AWS set-up: AWS's documented example credentials, which the
# local endpoint accepts, and nothing from this machine's ~/.aws.
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
# Everything runs on 127.0.0.1: skip the check that SES's SMTP hosts resolve.
export SESMTP_OFFLINE=1

bin/iam-local --port 0 --url-file "$work/url" > "$work/iam-local.log" 2>&1 &
iam_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "iam-local did not start:"; cat "$work/iam-local.log"; exit 1; }
export AWS_ENDPOINT_URL_IAM=$(cat "$work/url")
# iam-local serves Secrets Manager and SSM Parameter Store too.
export AWS_ENDPOINT_URL_SECRETS_MANAGER=$AWS_ENDPOINT_URL_IAM AWS_ENDPOINT_URL_SSM=$AWS_ENDPOINT_URL_IAM
# sesmtp's journal of store deliveries (default ~/.local/state/sesmtp) stays in the demo's directory.
export SESMTP_STATE_DIR="$work/state"
echo "== local IAM, Secrets Manager and SSM endpoint at $AWS_ENDPOINT_URL_IAM"

# A local SES-like SMTP endpoint that accepts only v4 passwords (for eu-west-1) of
# keys iam-local issued, over STARTTLS with a CA it generates.
bin/smtp-local --port 0 --iam-endpoint "$AWS_ENDPOINT_URL_IAM" --region eu-west-1 \
  --ca-file-out "$work/smtp-ca.pem" --addr-file "$work/smtp.addr" > "$work/smtp-local.log" 2>&1 &
smtp_pid=$!
for _ in $(seq 100); do [ -s "$work/smtp.addr" ] && break; sleep 0.1; done
[ -s "$work/smtp.addr" ] || { echo "smtp-local did not start:"; cat "$work/smtp-local.log"; exit 1; }
smtp=$(cat "$work/smtp.addr")
echo "== local SMTP endpoint at $smtp"

run() { echo; echo "\$ $*"; "$@"; }

run bin/sesmtp create --user demo-mailer --region eu-west-1,us-east-1 --out "$work/smtp/credentials.csv"
run ls -l "$work/smtp/credentials.csv"
run cat "$work/smtp/credentials.csv"

echo; echo "# Prove they authenticate (SMTP AUTH over STARTTLS; no mail is sent):"
run bin/sesmtp verify --credentials "$work/smtp/credentials.csv" --region eu-west-1 --endpoint "$smtp" --ca-file "$work/smtp-ca.pem"

echo; echo "# Creating it again is refused (exit 2), and nothing changes:"
run bin/sesmtp create --user demo-mailer --region eu-west-1 --out "$work/other.csv" || echo "exit code: $?"

echo; echo "# The rest of the life cycle: who has SMTP access, a zero-downtime rotation in two phases"
echo "# (a new key while the old one keeps working; then, once senders use it, retire the old one), removal:"
run bin/sesmtp list
run bin/sesmtp rotate --user demo-mailer --strategy key --region eu-west-1 --out "$work/smtp/rotated.env" --format env \
  --verify --smtp-endpoint "$smtp" --ca-file "$work/smtp-ca.pem"
run bin/sesmtp list
run bin/sesmtp retire --user demo-mailer --if-unused-for 24h
run bin/sesmtp delete --user demo-mailer --yes

echo; echo "# Where applications read SMTP passwords: a Secrets Manager secret (JSON: username, password,"
echo "# host, port, region). The IAM user is tagged with where its credentials live."
run bin/sesmtp create --user demo-app --region eu-west-1 --store secretsmanager:demo/smtp
echo; echo "# Read the secret back as an application does (GetSecretValue, AWSCURRENT) and authenticate with it:"
run bin/sesmtp verify --store secretsmanager:demo/smtp --store-region eu-west-1 --endpoint "$smtp" --ca-file "$work/smtp-ca.pem"
echo; echo "# Rotate: the same secret gets a new AWSCURRENT version (the old one becomes AWSPREVIOUS);"
echo "# no --store needed, the user's sesmtp:store tag says where. Applications pick it up on their next read."
run bin/sesmtp rotate --user demo-app --strategy key --region eu-west-1 \
  --verify --smtp-endpoint "$smtp" --ca-file "$work/smtp-ca.pem"
run bin/sesmtp verify --store secretsmanager:demo/smtp --store-region eu-west-1 --endpoint "$smtp" --ca-file "$work/smtp-ca.pem"
echo; echo "# Remove the sender and its secret (scheduled for deletion: restorable for 7 days):"
run bin/sesmtp delete --user demo-app --yes --delete-stored --recovery-window-days 7

echo; echo "# derive computes an SMTP password locally from a secret key (read from the environment"
echo "# or stdin, never argv). For AWS's documented example key AWS publishes BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9:"
run bin/sesmtp derive --region us-east-1 < /dev/null
