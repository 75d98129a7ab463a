"""Verify a holdfast attestation bundle with tools nobody at holdfast wrote.

Usage: verify_bundle.py BUNDLE PUBLIC_KEY_PEM KEYID

For every line (a DSSE envelope) of BUNDLE, securesystemslib checks the
signature with the given ed25519 public key, and in-toto-attestation parses
and validates the payload as an in-toto Statement v1. Prints one line per
envelope: "<line> verified <predicateType>" or "<line> not-verified". Exits 2
when a line is not a DSSE envelope or its verified payload is not a valid
Statement.
"""

import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey


def main() -> int:
    bundle, public, keyid = sys.argv[1:4]
    with open(public, "rb") as f:
        key = SSlibKey.from_crypto(load_pem_public_key(f.read()), keyid=keyid)
    with open(bundle, "rb") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        envelope = Envelope.from_dict(json.loads(line))
        if envelope.payload_type != "application/vnd.in-toto+json":
            print(f"{n} not-verified")
            continue
        try:
            envelope.verify([key], 1)
        except VerificationError:
            print(f"{n} not-verified")
            continue
        pb = json_format.Parse(envelope.payload, statement_pb2.Statement())
        statement = Statement.copy_from_pb(pb)
        statement.validate()
        print(f"{n} verified {statement.pb.predicate_type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
