"""The demo's hands: the console driven over HTTP exactly as a browser (and its JS) drives it."""
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_PICKER = re.compile(r'name="picker"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="picker"')
_ERRORS = re.compile(r'class="(?:error[^"]*|error-message)"[^>]*>\s*([^<]+)<')


class ConsoleError(RuntimeError):
    """The console refused or failed a step; the message carries its status and its words."""


def _last_id(url: str, after: str) -> int:
    """Return the number that follows `/after/` in a URL path."""
    match = re.search(rf"/{after}/(\d+)", urlsplit(url).path)
    if not match:
        raise ConsoleError(f"expected a /{after}/<id> URL, got {url}")
    return int(match.group(1))


class Console:
    """A signed-in browser session on the console."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.http = requests.Session()
        self.token = ""

    def _check(self, resp: requests.Response, what: str, ok=(200, 201, 204)) -> requests.Response:
        if resp.status_code not in ok:
            said = "; ".join(html.unescape(m.strip()) for m in _ERRORS.findall(resp.text)[:5])
            raise ConsoleError(f"{what}: HTTP {resp.status_code} {said or resp.text[:300]}")
        match = _CSRF.search(resp.text)
        if match:
            self.token = match.group(1)
        return resp

    def get(self, path: str, what: str) -> requests.Response:
        return self._check(self.http.get(self.base + path, timeout=60), what)

    def post(self, path: str, what: str, data=None, files=None, fragment=False) -> requests.Response:
        data = {**(data or {}), "csrf_token": self.token}
        headers = {"X-CSRFToken": self.token}
        if fragment:
            headers["HX-Request"] = "true"
        return self._check(self.http.post(self.base + path, data=data, files=files, headers=headers,
                                          timeout=120), what)

    def login(self, username: str, password: str) -> None:
        """Sign in through the login form."""
        self.get("/login", "open the login page")
        resp = self.post("/login", "sign in", {"username": username, "password": password})
        if "/login" in urlsplit(resp.url).path:
            raise ConsoleError("sign in: the console did not accept the admin credentials")

    def create_product(self, name: str) -> int:
        """Create a product (产品) and return its id."""
        self.get("/products", "open the products page")
        return _last_id(self.post("/products", f"create product {name}", {"name": name}).url, "products")

    def import_devices(self, product_id: int, names: list[str]) -> None:
        """Import DeviceNames from a CSV file, as the product page's import form does."""
        body = ("\ufeffDeviceName\r\n" + "".join(f"{n}\r\n" for n in names)).encode()
        self.post(f"/products/{product_id}/devices/import", f"import {len(names)} devices",
                  files={"file": ("devices.csv", body, "text/csv")})

    def upload_raw(self, path: Path, filename: str, product_id: int, name: str, version: str,
                   description: str) -> int:
        """Add firmware the way the page's JS does: check the fields, then PUT the file as the body."""
        fields = {"name": name, "product": str(product_id), "version": version, "description": description}
        self.get("/firmware/new", "open 添加固件")
        self.post("/firmware/new/check", f"check firmware {version}",
                  {**fields, "filename": filename, "size": str(path.stat().st_size)})
        with path.open("rb") as body:
            resp = self._check(self.http.put(
                f"{self.base}/firmware/upload", params={**fields, "filename": filename}, data=body,
                headers={"X-CSRFToken": self.token, "Content-Type": "application/octet-stream"},
                timeout=600), f"upload {filename}", ok=(201,))
        return int(resp.json()["id"])

    def upload_form(self, path: Path, filename: str, product_id: int, name: str, version: str,
                    description: str) -> int:
        """Add firmware through the plain multipart form (the console's no-JavaScript path)."""
        self.get("/firmware/new", "open 添加固件")
        fields = {"name": name, "product": str(product_id), "version": version, "description": description}
        with path.open("rb") as f:
            resp = self.post("/firmware/new", f"upload {filename}", fields,
                             files={"file": (filename, f, "application/octet-stream")})
        return _last_id(resp.url, "firmware")

    def _upgrade_form(self, firmware_id: int) -> str:
        resp = self.get(f"/firmware/{firmware_id}/upgrade", "open 固件升级")
        match = _PICKER.search(resp.text)
        if not match:
            raise ConsoleError("the upgrade form has no device picker token")
        return match.group(1) or match.group(2)

    def task_by_version(self, firmware_id: int, version: str, device_ids: list[int], timeout: int,
                        push_rate: int | None = None) -> int:
        """按固件版本, 指定设备: tick devices in the picker (选择设备), then save the task; return its id."""
        token = self._upgrade_form(firmware_id)
        for device_id in device_ids:
            self.post(f"/firmware/{firmware_id}/upgrade/picker/{token}/toggle/{device_id}",
                      f"choose device {device_id}", fragment=True)
        data = {"method": "version", "source_versions": version, "scope": "selected", "picker": token,
                "timeout": str(timeout), "push_rate": str(push_rate or "")}
        return _last_id(self.post(f"/firmware/{firmware_id}/upgrade", "save the gray-release task", data).url,
                        "tasks")

    def task_by_names(self, firmware_id: int, names: list[str], timeout: int, push_rate: int | None) -> int:
        """按设备名称: upload a CSV of DeviceNames (the downloadable template's layout); return the task id."""
        token = self._upgrade_form(firmware_id)
        self.get(f"/firmware/{firmware_id}/upgrade/template.csv", "download the CSV template")
        body = ("\ufeffDeviceName\r\n" + "".join(f"{n}\r\n" for n in names)).encode()
        data = {"method": "names", "picker": token, "timeout": str(timeout), "push_rate": str(push_rate or "")}
        resp = self.post(f"/firmware/{firmware_id}/upgrade", "save the by-name task", data,
                         files={"csv_file": ("rest-of-fleet.csv", body, "text/csv")})
        return _last_id(resp.url, "tasks")

    def retry(self, upgrade_id: int) -> None:
        """Press 重试 on one failed device's row."""
        self.post(f"/upgrades/{upgrade_id}/retry", f"retry upgrade {upgrade_id}")
