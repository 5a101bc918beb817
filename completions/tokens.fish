# fish completion for tokens. Generated from the command definitions by `tokens completion fish`: do not edit.
# Install: tokens completion fish > ~/.config/fish/completions/tokens.fish

function __tokens_profiles --description 'Profile names from config.json (quiet, no secret store access)'
    command tokens __complete profiles 2>/dev/null
end

# Prints the command (an empty line when none yet), how many of its arguments precede the
# cursor, and, once a command line to run has started (exec), "cmdline" and its words.
function __tokens_state
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmd ''
    set -l n 0
    set -l skip 0
    set -l i 0
    for w in $words
        set i (math $i + 1)
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test -z "$cmd"
            switch $w
                case '--profile'
                    set skip 1
                case '-*'
                case '*'
                    set cmd $w
            end
            continue
        end
        switch "$cmd $w"
            case 'login --profile' 'login --client-id' 'login --team-id' 'login --app-id' 'login --redirect-uri' 'login --scope' 'login --timeout'
                set skip 1
            case 'get --profile' 'get --format' 'get --min-ttl'
                set skip 1
            case 'exec --profile' 'exec --provider' 'exec --min-ttl'
                set skip 1
            case 'api --profile' 'api -X' 'api --method' 'api -H' 'api --header' 'api -f' 'api --raw-field' 'api -F' 'api --field' 'api --form' 'api --input' 'api --max-pages' 'api --max-wait'
                set skip 1
            case 'serve --profile' 'serve --provider' 'serve --listen' 'serve --socket' 'serve --max-wait'
                set skip 1
            case 'status --profile'
                set skip 1
            case 'logout --profile'
                set skip 1
            case 'completion --profile'
                set skip 1
            case 'exec --'
                set -e words[1..$i]
                printf '%s\n' $cmd 1 cmdline $words
                return
            case 'exec -*'
            case 'exec *'
                set -e words[1..(math $i - 1)]
                printf '%s\n' $cmd 1 cmdline $words
                return
            case '* -*'
            case '*'
                set n (math $n + 1)
        end
    end
    printf '%s\n' $cmd $n
end

# True when the command is $argv[1] ("" for none yet) and, if $argv[2] is given, that many of
# its arguments precede the cursor.
function __tokens_at
    set -l state (__tokens_state)
    test "$state[1]" = "$argv[1]"; or return 1
    set -q argv[2]; or return 0
    test "$state[2]" = "$argv[2]"; and test "$state[3]" != cmdline
end

# True inside the command line that $argv[1] (exec) runs, or at its first word.
function __tokens_in_command_line
    set -l state (__tokens_state)
    test "$state[1]" = "$argv[1]"; or return 1
    test "$state[3]" = cmdline; and return 0
    not string match -q -- '-*' (commandline -ct)
end

# True when one of $argv was typed before the cursor (an option that applies only without it).
function __tokens_seen
    set -l words (commandline -opc)
    for w in $argv
        contains -- $w $words; and return 0
    end
    return 1
end

function __tokens_command_line
    set -l state (__tokens_state)
    set -l words
    test "$state[3]" = cmdline; and set words $state[4..-1]
    __fish_complete_subcommand --commandline $words (commandline -ct)
end

complete -c tokens -f

# commands
complete -c tokens -n '__tokens_at \'\'' -s V -l version -d 'print the version'
complete -c tokens -n '__tokens_at \'\'' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at \'\'' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at \'\'' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at \'\'' -a login -d 'store credentials for a provider (browser login for SoundCloud)'
complete -c tokens -n '__tokens_at \'\'' -a get -d 'print a valid access token'
complete -c tokens -n '__tokens_at \'\'' -a exec -d 'run a command with fresh tokens in its environment'
complete -c tokens -n '__tokens_at \'\'' -a api -d 'make an authenticated request to a provider API'
complete -c tokens -n '__tokens_at \'\'' -a serve -d 'serve the provider APIs on loopback with fresh credentials added'
complete -c tokens -n '__tokens_at \'\'' -a status -d 'show what is configured and when tokens expire'
complete -c tokens -n '__tokens_at \'\'' -a logout -d 'remove a provider\'s credentials (SoundCloud: sign out first)'
complete -c tokens -n '__tokens_at \'\'' -a completion -d 'print a shell completion script'
complete -c tokens -n '__tokens_at \'\'' -a help -d 'show help for a command'

# login
complete -c tokens -n '__tokens_at login' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at login' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric' -l client-id -x -d 'OAuth client id (SoundCloud, Soundcharts)'
complete -c tokens -n '__tokens_at login; and not __tokens_seen soundcloud chartmetric' -l team-id -x -d 'Soundcharts team name or id'
complete -c tokens -n '__tokens_at login; and not __tokens_seen soundcloud chartmetric' -l legacy -d 'Soundcharts: store the deprecated x-app-id / x-api-key pair'
complete -c tokens -n '__tokens_at login; and not __tokens_seen soundcloud chartmetric' -l app-id -x -d 'Soundcharts legacy app id (with --legacy)'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric soundcharts' -l client-credentials -d 'SoundCloud: app-only credentials, no user login'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric soundcharts' -l redirect-uri -x -d 'SoundCloud: loopback redirect URI registered with your app'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric soundcharts' -l scope -x -d 'SoundCloud: scope to request (none is sent unless given)'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric soundcharts' -l no-browser -d 'SoundCloud: print the URL instead of opening a browser; accept the redirected URL on stdin'
complete -c tokens -n '__tokens_at login; and not __tokens_seen chartmetric soundcharts' -l timeout -x -d 'SoundCloud: how long to wait for the browser (default 300)'
complete -c tokens -n '__tokens_at login' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at login 0' -a 'soundcloud chartmetric soundcharts' -d 'provider'

# get
complete -c tokens -n '__tokens_at get' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at get' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at get' -l format -x -a 'token header json env' -d 'output format'
complete -c tokens -n '__tokens_at get' -l min-ttl -x -d 'minimum seconds of validity a cached token must have'
complete -c tokens -n '__tokens_at get' -l force-refresh -d 'ignore the cache and mint or refresh now'
complete -c tokens -n '__tokens_at get' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at get 0' -a 'soundcloud chartmetric soundcharts' -d 'provider'

# exec
complete -c tokens -n '__tokens_at exec 0' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at exec 0' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at exec 0' -l provider -x -a 'soundcloud chartmetric soundcharts' -d 'provider to include (repeatable)'
complete -c tokens -n '__tokens_at exec 0' -l min-ttl -x -d 'minimum seconds of validity each token must have'
complete -c tokens -n '__tokens_at exec 0' -l serve -d 'give the command P_API_URL and TOKENS_SERVE_URL of a server that adds the credentials'
complete -c tokens -n '__tokens_at exec 0' -l mask -d 'replace the tokens in the command\'s piped stdout/stderr with *** (default: on under CI)'
complete -c tokens -n '__tokens_at exec 0' -l no-mask -d 'pass the output through untouched, even under CI'
complete -c tokens -n '__tokens_at exec 0' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_in_command_line exec' -a '(__tokens_command_line)'

# api
complete -c tokens -n '__tokens_at api' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at api' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at api' -s X -l method -x -a 'GET HEAD POST PUT PATCH DELETE OPTIONS' -d 'HTTP method (default GET, or POST with --input/--form)'
complete -c tokens -n '__tokens_at api' -s H -l header -x -d 'extra request header \'Name: value\' (repeatable)'
complete -c tokens -n '__tokens_at api' -s f -l raw-field -x -d 'a string field: query parameter for GET/HEAD/DELETE, else JSON body (repeatable)'
complete -c tokens -n '__tokens_at api' -s F -l field -x -d 'a typed field: true, false, null, integers; @PATH reads a file, @- stdin (repeatable)'
complete -c tokens -n '__tokens_at api' -l form -x -d 'a multipart/form-data part; key=@PATH streams a file (repeatable)'
complete -c tokens -n '__tokens_at api' -l input -x -d 'the request body from a file, or - for stdin'
complete -c tokens -n '__tokens_at api' -l paginate -d 'follow next-page links and print one JSON array of all items'
complete -c tokens -n '__tokens_at api' -l max-pages -x -d 'with --paginate: the most pages read; more is exit 5'
complete -c tokens -n '__tokens_at api' -s i -l include -d 'print the status line and response headers before the body'
complete -c tokens -n '__tokens_at api' -l silent -d 'do not print the response body'
complete -c tokens -n '__tokens_at api' -l max-wait -x -d 'longest wait for a rate limit before giving up (exit 5)'
complete -c tokens -n '__tokens_at api' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at api 0' -a 'soundcloud chartmetric soundcharts' -d 'provider'

# serve
complete -c tokens -n '__tokens_at serve' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at serve' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at serve' -l provider -x -a 'soundcloud chartmetric soundcharts' -d 'provider to serve (repeatable)'
complete -c tokens -n '__tokens_at serve' -l listen -x -d 'loopback address and port (default 127.0.0.1:0, a free port)'
complete -c tokens -n '__tokens_at serve' -l socket -x -d 'a unix socket (mode 0600, in a directory of yours) instead of a port'
complete -c tokens -n '__tokens_at serve' -l background -d 'detach once ready; print TOKENS_SERVE_PID too'
complete -c tokens -n '__tokens_at serve' -l max-wait -x -d 'longest wait for a rate limit before passing the 429 back'
complete -c tokens -n '__tokens_at serve' -s h -l help -d 'show help'

# status
complete -c tokens -n '__tokens_at status' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at status' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at status' -l json -d 'machine-readable output'
complete -c tokens -n '__tokens_at status' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at status 0' -a 'soundcloud chartmetric soundcharts' -d 'provider'

# logout
complete -c tokens -n '__tokens_at logout' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at logout' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at logout' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at logout 0' -a 'soundcloud chartmetric soundcharts' -d 'provider'

# completion
complete -c tokens -n '__tokens_at completion' -l profile -x -a '(__tokens_profiles)' -d 'profile to use (separate credentials per profile)'
complete -c tokens -n '__tokens_at completion' -s v -l verbose -d 'explain what happens on stderr (never secrets)'
complete -c tokens -n '__tokens_at completion' -s h -l help -d 'show help'
complete -c tokens -n '__tokens_at completion 0' -a 'bash zsh fish' -d 'shell'

# help
complete -c tokens -n '__tokens_at help 0' -a 'login get exec api serve status logout completion help' -d 'command'
