# HTTP downtime probe, run as: sh -c "$(cat http_probe.sh)" sh URL INTERVAL_S DEADLINE_S MAX_TIME_S
# The URL only ever arrives as "$1" and is passed to curl as one argument after "--"; it is never part of this text.
# Bounded: no request starts after DEADLINE_S seconds and each request is cut by curl --max-time MAX_TIME_S.
# Output, one line per request:
#   vmmprobe-http SEQ START HTTP_CODE TIME_TOTAL CURL_EXIT [ERROR MESSAGE]
# (START is `date +%s.%N`; a date without %N support prints e.g. "1795789445.%N") and at the end:
#   vmmprobe-http-end COUNT
end=$(( $(date +%s) + $3 ))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
  n=$((n + 1))
  t=$(date +%s.%N)
  r=$(curl -gs -o /dev/null --max-time "$4" -w '%{http_code} %{time_total} %{exitcode} %{errormsg}' -- "$1" 2>/dev/null)
  echo "vmmprobe-http $n $t $r"
  sleep "$2"
done
echo "vmmprobe-http-end $n"
