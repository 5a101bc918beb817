# bash completion for tokens                                   -*- shell-script -*-
# Generated from the command definitions by `tokens completion bash`: do not edit.
# Install one of:
#   tokens completion bash > ~/.local/share/bash-completion/completions/tokens
#   echo 'source <(tokens completion bash)' >> ~/.bashrc
# Works best with the bash-completion package; plain bash is enough for the basics.

# Profile names from config.json (quiet, no secret store access).
_tokens_profiles() {
    command tokens __complete profiles 2>/dev/null
}

# Complete the command line that starts at word $1 (exec runs another program).
_tokens_command_line() {
    if declare -F _command_offset >/dev/null 2>&1; then
        _command_offset $((COMP_CWORD - cword + $1))
    elif (($1 == cword)); then
        COMPREPLY=($(compgen -c -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_tokens() {
    local cur prev words cword split=false
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        # Without bash-completion: split the line at blanks, and --option=value by hand.
        COMPREPLY=()
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra words <<<"$line"
        [[ -z $line || $line == *[[:blank:]] ]] && words+=("")
        cword=$((${#words[@]} - 1))
        cur=${words[cword]}
        prev=${words[cword - 1]}
        if [[ $cur == --?*=* ]]; then
            prev=${cur%%=*}
            cur=${cur#*=}
            split=true
        fi
    fi

    # The command is the first word that is neither an option nor the value of one.
    local i cmd= at=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --profile) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]} at=$i; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        case $prev in
            --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
        esac
        $split && return 0
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '-V --version --profile -v --verbose -h --help' -- "$cur"))
        else
            COMPREPLY=($(compgen -W 'login get exec api serve status logout completion help' -- "$cur"))
        fi
        return 0
    fi

    case $cmd in
        login)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile|--client-id|--team-id|--app-id|--redirect-uri|--scope|--timeout) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                    --client-id|--team-id|--app-id|--redirect-uri|--scope|--timeout) return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    local seen=" ${words[*]:at+1:cword-at-1} "
                    local opts='--profile -v --verbose -h --help'
                    [[ $seen != *' chartmetric '* ]] && opts+=' --client-id'
                    [[ $seen != *' soundcloud '* && $seen != *' chartmetric '* ]] && opts+=' --team-id'
                    [[ $seen != *' soundcloud '* && $seen != *' chartmetric '* ]] && opts+=' --legacy'
                    [[ $seen != *' soundcloud '* && $seen != *' chartmetric '* ]] && opts+=' --app-id'
                    [[ $seen != *' chartmetric '* && $seen != *' soundcharts '* ]] && opts+=' --client-credentials'
                    [[ $seen != *' chartmetric '* && $seen != *' soundcharts '* ]] && opts+=' --redirect-uri'
                    [[ $seen != *' chartmetric '* && $seen != *' soundcharts '* ]] && opts+=' --scope'
                    [[ $seen != *' chartmetric '* && $seen != *' soundcharts '* ]] && opts+=' --no-browser'
                    [[ $seen != *' chartmetric '* && $seen != *' soundcharts '* ]] && opts+=' --timeout'
                    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")) ;;
            esac
            ;;
        get)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile|--format|--min-ttl) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                    --format) COMPREPLY=($(compgen -W 'token header json env' -- "$cur")); return 0 ;;
                    --min-ttl) return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose --format --min-ttl --force-refresh -h --help' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")) ;;
            esac
            ;;
        exec)
            local start=
            for ((i = at + 1; i < cword; i++)); do
                case ${words[i]} in
                    --) start=$((i + 1)); break ;;
                    --profile|--provider|--min-ttl) ((i++)) ;;
                    -*) ;;
                    *) start=$i; break ;;
                esac
            done
            if [[ -n $start ]]; then
                _tokens_command_line "$start"
                return 0
            fi
            case $prev in
                --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                --provider) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")); return 0 ;;
                --min-ttl) return 0 ;;
            esac
            $split && return 0
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '--profile -v --verbose --provider --min-ttl --serve --mask --no-mask -h --help' -- "$cur"))
                return 0
            fi
            _tokens_command_line "$cword"
            ;;
        api)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile|-X|--method|-H|--header|-f|--raw-field|-F|--field|--form|--input|--max-pages|--max-wait) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                    -X|--method) COMPREPLY=($(compgen -W 'GET HEAD POST PUT PATCH DELETE OPTIONS' -- "$cur")); return 0 ;;
                    -H|--header|-f|--raw-field|-F|--field|--form|--input|--max-pages|--max-wait) return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose -X --method -H --header -f --raw-field -F --field --form --input --paginate --max-pages -i --include --silent --max-wait -h --help' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")) ;;
            esac
            ;;
        serve)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile|--provider|--listen|--socket|--max-wait) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                    --provider) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")); return 0 ;;
                    --listen|--socket|--max-wait) return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose --provider --listen --socket --background --max-wait -h --help' -- "$cur"))
                    return 0
                fi
            fi
            ;;
        status)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose --json -h --help' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")) ;;
            esac
            ;;
        logout)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose -h --help' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'soundcloud chartmetric soundcharts' -- "$cur")) ;;
            esac
            ;;
        completion)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    --profile) ((i++)) ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                case $prev in
                    --profile) COMPREPLY=($(compgen -W "$(_tokens_profiles)" -- "$cur")); return 0 ;;
                esac
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '--profile -v --verbose -h --help' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'bash zsh fish' -- "$cur")) ;;
            esac
            ;;
        help)
            local n=0 dd=false
            for ((i = at + 1; i < cword; i++)); do
                if $dd; then ((n++)); continue; fi
                case ${words[i]} in
                    --) dd=true ;;
                    -*) ;;
                    *) ((n++)) ;;
                esac
            done
            if ! $dd; then
                $split && return 0
                if [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W '' -- "$cur"))
                    return 0
                fi
            fi
            case $n in
                0) COMPREPLY=($(compgen -W 'login get exec api serve status logout completion help' -- "$cur")) ;;
            esac
            ;;
    esac
    return 0
}

complete -F _tokens tokens
