# Sourced by the project's scripts (setup.sh, build-image.sh, test-kubernetes.sh): the one
# way they install Debian packages, as root or through sudo, and only those missing.
apt_install() {
    local sudo="" missing=() package
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "${0##*/}: installing Debian packages: ${missing[*]}" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}
