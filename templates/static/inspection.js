/* Phone report: photos shrunk on the client (canvas) before upload, with the original JPEG's
   EXIF segment (time, GPS) carried over and its Orientation reset, since the canvas already
   drew the picture upright. Forms are sent with fetch; the server's one-line error is shown. */
(function () {
  'use strict';
  var MAX_SIDE = 1600, QUALITY = 0.85;

  function exifSegment(buf) {
    // The APP1 "Exif" segment of a JPEG, or null.
    var v = new DataView(buf);
    if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) return null;
    var off = 2;
    while (off + 4 <= v.byteLength) {
      var marker = v.getUint16(off), len = v.getUint16(off + 2);
      if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) return new Uint8Array(buf.slice(off, off + 2 + len));
      if (marker === 0xFFDA || (marker & 0xFF00) !== 0xFF00) return null;
      off += 2 + len;
    }
    return null;
  }

  function resetOrientation(seg) {
    // seg: FF E1 len(2) "Exif\0\0" TIFF...; set IFD0 tag 0x0112 to 1.
    var v = new DataView(seg.buffer, seg.byteOffset, seg.byteLength), t = 10;
    if (seg.byteLength < t + 8) return seg;
    var le = v.getUint16(t) === 0x4949;
    var ifd = t + v.getUint32(t + 4, le);
    if (ifd + 2 > seg.byteLength) return seg;
    var n = v.getUint16(ifd, le);
    for (var i = 0; i < n; i++) {
      var e = ifd + 2 + i * 12;
      if (e + 12 > seg.byteLength) break;
      if (v.getUint16(e, le) === 0x0112) { v.setUint16(e + 8, 1, le); break; }
    }
    return seg;
  }

  function withExif(blob, seg) {
    if (!seg) return Promise.resolve(blob);
    return blob.arrayBuffer().then(function (b) {
      var body = new Uint8Array(b);
      return new Blob([body.slice(0, 2), seg, body.slice(2)], {type: 'image/jpeg'});
    });
  }

  function shrink(file) {
    // Resolves to {blob, name}; files that are not decodable images go up unchanged (the server judges them).
    if (!/^image\//.test(file.type) || !window.createImageBitmap) return Promise.resolve({blob: file, name: file.name});
    return file.arrayBuffer().then(function (buf) {
      var seg = exifSegment(buf);
      return createImageBitmap(file, {imageOrientation: 'from-image'}).then(function (bmp) {
        var k = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
        if (k === 1 && file.size < 1.5 * 1024 * 1024) return {blob: file, name: file.name};
        var c = document.createElement('canvas');
        c.width = Math.round(bmp.width * k); c.height = Math.round(bmp.height * k);
        c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
        return new Promise(function (res) { c.toBlob(res, 'image/jpeg', QUALITY); }).then(function (b) {
          return withExif(b, seg ? resetOrientation(seg) : null);
        }).then(function (b) { return {blob: b, name: file.name.replace(/\.[^.]*$/, '') + '.jpg'}; });
      });
    }).catch(function () { return {blob: file, name: file.name}; });
  }

  function previews(input, box) {
    if (!box) return;
    box.textContent = '';
    Array.prototype.forEach.call(input.files, function (f) {
      if (!/^image\//.test(f.type)) {   // not a picture: its name, so the mistake is visible
        var span = document.createElement('span');
        span.className = 'notimage';
        span.textContent = f.name;
        box.appendChild(span);
        return;
      }
      var img = document.createElement('img');
      img.src = URL.createObjectURL(f);
      img.alt = f.name;
      box.appendChild(img);
    });
  }

  function wire(form) {
    var status = form.querySelector('.phone-status');
    var input = form.querySelector('input[type=file]');
    var box = form.querySelector('.previews');
    if (input) input.addEventListener('change', function () { previews(input, box); if (status) status.textContent = input.files.length ? '已选 ' + input.files.length + ' 张照片' : ''; });
    var site = form.querySelector('#f-site'), unit = form.querySelector('#f-unit');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var button = form.querySelector('button[type=submit]');
      button.disabled = true;
      status.className = 'phone-status';
      status.textContent = '正在压缩照片…';
      var files = input ? Array.prototype.slice.call(input.files) : [];
      Promise.all(files.map(shrink)).then(function (shrunk) {
        var data = new FormData(form);
        data.delete('photos');
        shrunk.forEach(function (s) { data.append('photos', s.blob, s.name); });
        status.textContent = '正在上传…';
        return fetch(form.action, {method: 'POST', body: data, credentials: 'same-origin', headers: {'Accept': 'application/json'}});
      }).then(function (r) {
        return r.json().catch(function () { return {error: '服务器返回异常（' + r.status + '）'}; });
      }).then(function (j) {
        button.disabled = false;
        if (j.error) {
          status.className = 'phone-status error'; status.textContent = j.error;
          status.scrollIntoView({block: 'center'});
          return;
        }
        status.className = 'phone-status ok';
        status.textContent = j.message + (j.far && j.far.length ? '（注意：有照片距点位约 ' + j.far[0].far_m + ' 米）' : '');
        if (j.url) { var a = document.createElement('a'); a.href = j.url; a.textContent = ' 查看'; status.appendChild(a); }
        status.scrollIntoView({block: 'center'});
        if (form.id === 'phone-form') { form.reset(); if (box) box.textContent = ''; if (unit) { unit.value = unit.defaultValue; if (!unit.readOnly) unit.placeholder = '不填则取点位的包抓单位'; } }
        else { form.querySelector('button').disabled = true; }
      }).catch(function () {
        button.disabled = false;
        status.className = 'phone-status error';
        status.textContent = '网络错误，未上报，请重试';
        status.scrollIntoView({block: 'center'});
      });
    });
    if (site && unit && !unit.readOnly) site.addEventListener('change', function () {
      var o = site.options[site.selectedIndex];
      unit.placeholder = o && o.dataset.unit ? '默认：' + o.dataset.unit : '不填则取点位的包抓单位';
    });
  }
  document.querySelectorAll('#phone-form, .rectify-phone').forEach(wire);
})();
