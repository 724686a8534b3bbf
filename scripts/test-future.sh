#!/usr/bin/env bash
# Step of `npm test`: proves that no test depends on the calendar. The suites that touch
# DynamoDB (the API and webhook delivery on DynamoDB Local, the store suites, the Lambda
# bundles and the webhook delivery handlers) run again with the clock 400 days ahead for this
# process and every child — Node and DynamoDB Local's JVM alike, so its TTL deletes on the
# moved clock too. Debian's faketime does it; .ci/run installs it.
set -euo pipefail
days="${TRIGGERS_TEST_DAYS_AHEAD:-400}"
if ! command -v faketime >/dev/null; then
  echo "test:future needs faketime (Debian package faketime: apt-get install faketime); .ci/run installs it." >&2
  exit 1
fi
# A clock that did not move would prove nothing: check that Node sees the future.
REAL_NOW="$(date +%s)" DAYS="$days" faketime -f "+${days}d" node -e '
  const ahead = Date.now() / 1000 - Number(process.env.REAL_NOW);
  const wanted = Number(process.env.DAYS) * 86400;
  if (Math.abs(ahead - wanted) > 3600) {
    console.error(`faketime did not move the clock: ${ahead} s ahead, ${wanted} wanted`);
    process.exit(1);
  }
  console.log(`clock moved to ${new Date().toISOString()} (${process.env.DAYS} days ahead)`);
'
exec faketime -f "+${days}d" npx jest --selectProjects api-on-dynamodb sqlite -- tests/api tests/webhooks tests/store tests/lambda "$@"
