"""A test identity provider, run with the MLflow test environment's Python (PyJWT, cryptography).

    python idp.py DIR < requests.json

writes DIR/jwks.json (the IdP's public key, kid idp-1) and DIR/jwks-rotated.json (only the
"stranger" key, kid idp-2: the IdP after a key rotation), and prints {name: token} for the
requests, each {"name", "claims", "key": "idp"|"stranger", "kid"}; `exp`/`iat` in claims are
seconds from now.
"""

import json
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def main() -> None:
    out = Path(sys.argv[1])
    keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for k in ("idp", "stranger")}
    for path, key, kid in (("jwks.json", "idp", "idp-1"), ("jwks-rotated.json", "stranger", "idp-2")):
        jwk = json.loads(RSAAlgorithm.to_jwk(keys[key].public_key()))
        jwk.update(kid=kid, use="sig", alg="RS256")
        (out / path).write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    tokens = {}
    for req in json.load(sys.stdin):
        claims = dict(req["claims"])
        for c in ("exp", "iat", "nbf"):
            if c in claims:
                claims[c] = now + claims[c]
        tokens[req["name"]] = jwt.encode(claims, keys[req.get("key", "idp")], algorithm="RS256",
                                         headers={"kid": req.get("kid", "idp-1")})
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()
