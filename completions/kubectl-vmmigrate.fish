# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_vmmigrate_global_optspecs
    string join \n kubeconfig= context= cluster= user= n/namespace= s/server= token= as= as-group= as-uid= certificate-authority= client-certificate= client-key= insecure-skip-tls-verify tls-server-name= request-timeout= o/output= no-color v/v= h/help V/version
end

function __fish_kubectl_vmmigrate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_vmmigrate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_vmmigrate_using_subcommand
    set -l cmd (__fish_kubectl_vmmigrate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "check" -d 'Report every live-migration prerequisite of VMs: all blockers at once, per VM and per candidate node'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "run" -d 'Live-migrate a VM: create a VirtualMachineInstanceMigration and follow it to its end'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "cancel" -d 'Abort the VM\'s running migration and wait until the abort is confirmed'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "status" -d 'Show the VM\'s latest migration: phase, nodes, timestamps and progress'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "probe" -d 'Measure network downtime of a VM without migrating it, until Ctrl-C or --duration (e.g. while another tool moves it)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "completion" -d 'Print a shell completion script (bash, zsh, fish, powershell), or install kubectl\'s completion helper'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "resolve-config" -d 'Print the kubeconfig files, context, cluster, server and namespace that would be used (no network access)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s l -l selector -d 'Check the VMs matching this label selector, e.g. app=db,tier!=test' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l all -d 'Check every VM in the namespace (every namespace with -A)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s A -l all-namespaces -d 'With --all or -l: look in every namespace'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l strict -d 'Treat warnings as blockers (exit 3 when any check warns)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l server-dry-run -d 'Also submit the migration with dryRun=All so the API server\'s admission webhooks judge it (nothing is created)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l probe -d 'Also check that the downtime probe can be placed (image, permissions, probe pod or ephemeral container)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand check" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l target-node -d 'Node to migrate to (sets spec.addedNodeSelector on the migration); default: the scheduler picks one' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l timeout -d 'Give up after this long (e.g. 10m); the migration is aborted unless --no-abort-on-timeout. Default: none' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l dry-run -d '"server": submit the migration with dryRun=All (admission runs, nothing is created), then stop' -r -f -a "none\t'Create the migration for real'
server\t'Submit the migration with dryRun=All and stop'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l report -d 'Write a validation report to this file (repeatable); format from --report-format, else from the extension' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l report-format -d 'Format of every --report file (default: by extension .md, .json, .xml; else markdown)' -r -f -a "markdown\t''
json\t''
junit\t''"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l max-downtime -d 'Exit 7 when the measured downtime exceeds this (needs --probe), e.g. 500ms' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l max-duration -d 'Exit 7 when the migration takes longer than this, e.g. 2m (the migration is not aborted)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l repeat -d 'Migrate N times in a row and report every run (with --round-trip, N round trips)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l metrics-file -d 'Write the results as OpenMetrics text to this file (for node_exporter\'s textfile collector)' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l pushgateway -d 'Push the results as metrics to this Prometheus Pushgateway URL (job kubectl_vmmigrate), e.g. http://pushgateway:9091' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-from -d 'Where the probe runs: pod/NAME[:CONTAINER] (an ephemeral container in that pod) or node/NAME (a short-lived prober pod on that node). Default: a short-lived prober pod on another node, deleted afterwards' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-image -d 'Image of the prober pod or ephemeral container (needs ping; curl for --probe-http)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-target -d 'Address or host name to ping, besides the VM\'s interface addresses and the external IPs of the Services selecting it (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-http -d 'http(s) URL to request over HTTP, e.g. a health endpoint (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-interval -d 'Interval between probe packets/requests (2ms to 60s); it bounds the downtime resolution' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe-tail -d 'Keep probing this long after the migration ended, to catch late outages' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l skip-check -d 'Do not run the prerequisite check before creating the migration'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l attach -d 'Follow the VM\'s migration that is already in progress instead of creating a new one'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l no-abort-on-timeout -d 'On --timeout, leave the migration running instead of aborting it'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l probe -d 'Measure network downtime during the migration with the downtime probe (see the --probe-* flags; not with --attach: a probe placed after the migration started cannot see all of it)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l round-trip -d 'After migrating, migrate the VM back to its original node'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l force -d 'Go on although the probe\'s baseline (a few seconds of probing before anything moves) found a target unreachable; that target is then reported as not answering. Without it, run does not migrate and probe does not start'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand run" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l timeout -d 'How long to wait for the abort to be confirmed (e.g. 1m). Default: no limit' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand status" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l duration -d 'How long to probe (e.g. 2m); without it, until Ctrl-C, at most 1h. Each probe is bounded by it inside the probe container too' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-from -d 'Where the probe runs: pod/NAME[:CONTAINER] (an ephemeral container in that pod) or node/NAME (a short-lived prober pod on that node). Default: a short-lived prober pod on another node, deleted afterwards' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-image -d 'Image of the prober pod or ephemeral container (needs ping; curl for --probe-http)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-target -d 'Address or host name to ping, besides the VM\'s interface addresses and the external IPs of the Services selecting it (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-http -d 'http(s) URL to request over HTTP, e.g. a health endpoint (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-interval -d 'Interval between probe packets/requests (2ms to 60s); it bounds the downtime resolution' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l probe-tail -d 'Keep probing this long after the migration ended, to catch late outages' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l force -d 'Go on although the probe\'s baseline (a few seconds of probing before anything moves) found a target unreachable; that target is then reported as not answering. Without it, run does not migrate and probe does not start'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand probe" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l dir -d 'With install-kubectl: the directory to write kubectl_complete-vmmigrate into (default: next to the plugin)' -r -f -a "(__fish_complete_directories)"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l force -d 'With install-kubectl: replace a different existing kubectl_complete-vmmigrate'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand completion" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l kubeconfig -d 'Path to the kubeconfig file to use (only this file; it must exist). Default: $KUBECONFIG, else ~/.kube/config' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l context -d 'The kubeconfig context to use (default: the current-context)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l cluster -d 'The kubeconfig cluster to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l user -d 'The kubeconfig user to use instead of the context\'s' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s n -l namespace -d 'Namespace of the VMs (default: the context\'s namespace, else "default")' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s s -l server -d 'The address and port of the Kubernetes API server (instead of the cluster\'s)' -r -f
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l token -d 'Bearer token for authentication to the API server (instead of the user\'s credentials)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l as -d 'Username to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l as-group -d 'Group to impersonate for the operation (repeatable)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l as-uid -d 'UID to impersonate for the operation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l certificate-authority -d 'Path to a certificate file for the certificate authority' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l client-certificate -d 'Path to a client certificate file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l client-key -d 'Path to a client key file for TLS' -r -F
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l tls-server-name -d 'Server name to use for server certificate validation' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l request-timeout -d 'Timeout of a single API request, e.g. 30s, 1m or 10 (seconds); 0 means none. Watches are not cut' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s o -l output -d 'Output format of results on stdout' -r -f -a "table\t'Human-readable table'
wide\t'Table with more columns'
json\t'JSON (a stable, documented schema)'
yaml\t'YAML (same schema as JSON)'"
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s v -l v -d 'Log verbosity on stderr: 0 warnings, 2 info, 4 debug, 6 and above trace (kubectl\'s -v scale)' -r
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l ping -d 'Also contact the API server (GET /version) and print its version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l insecure-skip-tls-verify -d 'Do not verify the server\'s certificate (insecure)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -l no-color -d 'Disable colours (also when the NO_COLOR environment variable is set and not empty)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand resolve-config" -s V -l version -d 'Print version'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "check" -d 'Report every live-migration prerequisite of VMs: all blockers at once, per VM and per candidate node'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "run" -d 'Live-migrate a VM: create a VirtualMachineInstanceMigration and follow it to its end'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "cancel" -d 'Abort the VM\'s running migration and wait until the abort is confirmed'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "status" -d 'Show the VM\'s latest migration: phase, nodes, timestamps and progress'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "probe" -d 'Measure network downtime of a VM without migrating it, until Ctrl-C or --duration (e.g. while another tool moves it)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "completion" -d 'Print a shell completion script (bash, zsh, fish, powershell), or install kubectl\'s completion helper'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "resolve-config" -d 'Print the kubeconfig files, context, cluster, server and namespace that would be used (no network access)'
complete -c kubectl-vmmigrate -n "__fish_kubectl_vmmigrate_using_subcommand help; and not __fish_seen_subcommand_from check run cancel status probe completion resolve-config help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
