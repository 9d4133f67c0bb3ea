"""Writing outputs the user names (packages, spreadsheets): folders made on the way, and
OSErrors turned into one Chinese line ("无法写入输出位置 …：原因")."""
from __future__ import annotations

import errno
from pathlib import Path

from .errors import UsageError

_OS_REASONS = {errno.EEXIST: "已有同名文件，不是文件夹", errno.ENOTDIR: "路径中有一段是文件，不是文件夹",
               errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限", errno.ENOSPC: "磁盘空间不足",
               errno.EROFS: "只读文件系统", errno.ENAMETOOLONG: "路径过长", errno.EISDIR: "是一个文件夹",
               errno.ENOENT: "路径不存在", errno.EDQUOT: "超出磁盘配额"}


def os_reason(e: OSError) -> str:
    """An OSError in Chinese, for "无法写入输出位置 …：原因"."""
    return _OS_REASONS.get(e.errno) or e.strerror or type(e).__name__


def cannot_write(where: Path, e: OSError) -> UsageError:
    return UsageError("cannot write output", f"无法写入输出位置 {where}：{os_reason(e)}")


def make_dirs(path: Path, created: list[Path]) -> None:
    """mkdir -p, remembering each folder made (so a failed export can remove them again)."""
    missing = []
    p = path
    while not p.is_dir():
        if p.exists() or p.is_symlink():   # a file where a folder must be
            raise cannot_write(p, FileExistsError(17, "File exists"))
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            if not p.is_dir():
                raise cannot_write(p, FileExistsError(17, "File exists")) from None
            continue
        except OSError as e:
            raise cannot_write(p, e) from None
        created.append(p)
