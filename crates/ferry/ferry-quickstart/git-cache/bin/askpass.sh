#!/bin/sh
# Ferry's GIT_ASKPASS helper: answers git's username and password prompts from the
# environment of the git process that runs it.
case "$1" in
  [Uu]sername*) printf '%s\n' "${FERRY_GIT_USERNAME:-}" ;;
  *) printf '%s\n' "${FERRY_GIT_PASSWORD:-}" ;;
esac
