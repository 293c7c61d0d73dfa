"""The environment's bootstrap, made the way `cdk bootstrap` makes it.

`cdk deploy` needs what `cdk bootstrap` creates: the ``CDKToolkit`` stack with the file
asset bucket (``cdk-<qualifier>-assets-<account>-<region>``), the publishing and deploy
roles and the ``/cdk-bootstrap/<qualifier>/version`` parameter. The deployer creates that
stack from the CDK CLI's own bootstrap template, with the parameters `cdk bootstrap`
passes by default, so `cdk bootstrap` and `cdk deploy` against a running local cloud find
an environment bootstrapped as theirs would be (`cdk bootstrap` has nothing to change).

Without a CDK CLI to take the template from, the deployer seeds the bucket and the version
parameter alone (as before), and says so: `cdk bootstrap` then fails against the emulation
(``BucketAlreadyExists``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

TOOLKIT_STACK = "CDKToolkit"
DEFAULT_QUALIFIER = "hnb659fds"
TEMPLATE_ENV = "LOCAL_BOOTSTRAP_TEMPLATE"
# Where the CDK CLI package keeps the template `cdk bootstrap` deploys.
_IN_PACKAGE = Path("aws-cdk/lib/api/bootstrap/bootstrap-template.yaml")
_ASSET_BUCKET = re.compile(
    r"^cdk-([A-Za-z0-9_-]{1,10})-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}$"
)
_VERSION_PARAMETER = re.compile(r"^/cdk-bootstrap/([A-Za-z0-9_-]{1,10})/version$")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def find_template(near: Iterable[Path] = ()) -> Path | None:
    """The CDK CLI's bootstrap template: $LOCAL_BOOTSTRAP_TEMPLATE, else in a node_modules
    beside the working directory, the given paths or local_cloud/, else beside `cdk` on
    PATH."""
    if os.environ.get(TEMPLATE_ENV):
        path = Path(os.environ[TEMPLATE_ENV])
        return path if path.is_file() else None
    bases = [Path.cwd(), *near, Path(__file__).resolve().parents[2]]
    candidates = [base / "node_modules" / _IN_PACKAGE for base in bases]
    cli = shutil.which("cdk")
    if cli:  # node_modules/.bin/cdk -> node_modules/aws-cdk/bin/cdk
        package = Path(cli).resolve().parents[1]
        candidates.append(package.parent / _IN_PACKAGE)
    return next((c for c in candidates if c.is_file()), None)


def qualifier(bucket_names: Iterable[str], version_parameters: Iterable[str | None]) -> str | None:
    """The bootstrap qualifier the assembly's stacks name (None: not the default
    synthesizer's layout, which the deployer then seeds as named)."""
    found = {m.group(1) for b in bucket_names if (m := _ASSET_BUCKET.match(b))}
    found |= {m.group(1) for p in version_parameters if p and (m := _VERSION_PARAMETER.match(p))}
    return found.pop() if len(found) == 1 else None


def cdk_bootstrap_parameters(qualifier: str) -> list[dict[str, str]]:
    """What `cdk bootstrap` passes with no options (an AWS-managed key for the bucket, no
    trusted accounts, public access blocked); the qualifier when it is not the default."""
    values = {
        "TrustedAccounts": "",
        "TrustedAccountsForLookup": "",
        "CloudFormationExecutionPolicies": "",
        "FileAssetsBucketKmsKeyId": "AWS_MANAGED_KEY",
        "PublicAccessBlockConfiguration": "true",
    }
    if qualifier != DEFAULT_QUALIFIER:
        values["Qualifier"] = qualifier
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def create_toolkit_stack(cfn: Any, template: Path, qualifier: str) -> bool:
    """Create the CDKToolkit stack from the template, as it is (`cdk bootstrap` compares
    the deployed template with its own); False when one exists already."""
    try:
        cfn.describe_stacks(StackName=TOOLKIT_STACK)
    except ClientError:
        pass
    else:
        return False
    cfn.create_stack(
        StackName=TOOLKIT_STACK,
        TemplateBody=template.read_text(encoding="utf-8"),
        Parameters=cdk_bootstrap_parameters(qualifier),
        Capabilities=CAPABILITIES,
    )
    return True
