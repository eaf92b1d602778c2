/* Evidence form: files sent in resumable pieces (tus), with a progress bar.
 *
 * Progressive enhancement: without JavaScript, or in a browser without fetch and Blob.slice, the form
 * posts the file as it always did. With it, a chosen file goes to the tus endpoint of the case in chunks;
 * a broken connection is retried, and choosing the same file again after a reload continues from the last
 * byte the server received. Every text shown comes from the form's data-msg-* attributes (translated by
 * the page), never from here. ES5 only, for old phones.
 */
(function () {
  'use strict';

  var form = document.getElementById('evidence-form');
  if (!form) {
    return;
  }

  var fieldOf = function (id) {
    var input = document.getElementById(id);
    return input ? input.closest('.field') : null;
  };
  var kindInputs = form.querySelectorAll('input[name="kind"]');
  var byKind = { file: fieldOf('file'), statement: fieldOf('statement'), link: fieldOf('url') };

  function currentKind() {
    for (var i = 0; i < kindInputs.length; i++) {
      if (kindInputs[i].checked) {
        return kindInputs[i].value;
      }
    }
    return 'file';
  }

  // Show only the field that the chosen kind of evidence needs.
  function showFieldsOfKind() {
    var kind = currentKind();
    Object.keys(byKind).forEach(function (name) {
      if (byKind[name]) {
        byKind[name].hidden = name !== kind;
      }
    });
  }
  for (var k = 0; k < kindInputs.length; k++) {
    kindInputs[k].addEventListener('change', showFieldsOfKind);
  }
  showFieldsOfKind();

  if (!(window.fetch && window.Blob && Blob.prototype.slice)) {
    return;
  }

  // The tus client (about 22 KB compressed) is fetched only once a file is chosen: a page that adds a
  // statement, or is only read, stays light on a slow connection.
  var tusWaiting = [];
  function withTus(callback) {
    if (window.tus) {
      callback();
      return;
    }
    tusWaiting.push(callback);
    if (tusWaiting.length > 1) {
      return;
    }
    var script = document.createElement('script');
    script.src = form.dataset.tusSrc;
    script.onload = script.onerror = function () {
      var waiting = tusWaiting;
      tusWaiting = [];
      waiting.forEach(function (fn) { fn(); });
    };
    document.head.appendChild(script);
  }

  var data = form.dataset;
  var fileInput = document.getElementById('file');
  var submit = form.querySelector('button[type="submit"]');
  var progressBox = document.getElementById('upload-progress');
  var bar = progressBox.querySelector('progress');
  var statusText = document.getElementById('upload-status');
  var errorBox = document.getElementById('upload-error');
  var errorText = errorBox.querySelector('[data-upload-error-text]');
  var lastSaid = -1;

  function say(text) {
    statusText.textContent = text;
  }

  function showProgress(sent, total) {
    var percent = total ? Math.floor((sent / total) * 100) : 0;
    bar.value = percent;
    // The live region speaks every tenth, not every chunk: a screen reader would talk without pause.
    if (percent === 100) {
      say(data.msgChecking);
    } else if (percent >= lastSaid + 10 || lastSaid < 0) {
      lastSaid = percent - (percent % 10);
      say(data.msgProgress.replace('{percent}', percent + ' %'));
    }
  }

  function showError(message) {
    errorText.textContent = message;
    errorBox.hidden = false;
    errorBox.scrollIntoView({ block: 'center' });
    submit.disabled = false;
    progressBox.hidden = true;
  }

  function checkedOutcomes() {
    var boxes = form.querySelectorAll('input[name="outcomes"]:checked');
    var ids = [];
    for (var i = 0; i < boxes.length; i++) {
      ids.push(boxes[i].value);
    }
    return ids.join(',');
  }

  function field(name) {
    var input = form.querySelector('[name="' + name + '"]');
    return input ? input.value : '';
  }

  // Retry what a bad connection breaks; stop on a refusal, whose reason the person must read.
  function shouldRetry(err) {
    var response = err.originalResponse;
    var status = response ? response.getStatus() : 0;
    var retry = !status || status >= 500 || status === 423
      // The server says where it stands (an offset that differs, a chunk cut off): go on from there.
      || (response.getHeader('Upload-Offset') !== null && response.getHeader('Upload-Offset') !== undefined);
    if (retry) {
      say(data.msgRetrying);
    }
    return retry;
  }

  function reasonOf(err) {
    var response = err.originalResponse;
    var status = response ? response.getStatus() : 0;
    var body = response ? (response.getBody() || '').trim() : '';
    if (status >= 400 && status < 500 && body) {
      return body;
    }
    return data.msgFailed;
  }

  if (fileInput) {
    fileInput.addEventListener('change', function () {
      if (fileInput.files && fileInput.files[0]) {
        withTus(function () {});
      }
    });
  }

  form.addEventListener('submit', function (event) {
    var file = fileInput && fileInput.files && fileInput.files[0];
    if (currentKind() !== 'file' || !file) {
      return; // statements, links and an empty choice go with the form as before
    }
    event.preventDefault();
    if (submit.disabled) {
      return; // already sending: a second click makes no second upload
    }
    submit.disabled = true;
    withTus(function () {
      if (window.tus && window.tus.isSupported) {
        send(file);
      } else {
        form.submit(); // no resumable upload here: the plain form, as without JavaScript
      }
    });
  });

  function send(file) {
    errorBox.hidden = true;
    lastSaid = -1;
    bar.value = 0;
    progressBox.hidden = false;
    say(data.msgStarting);

    var upload = new window.tus.Upload(file, {
      endpoint: data.uploadEndpoint,
      chunkSize: parseInt(data.uploadChunk, 10) || 5242880,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      headers: { 'X-CSRFToken': field('csrf_token') },
      metadata: {
        filename: file.name,
        title: field('title'),
        outcomes: checkedOutcomes(),
        version: field('version'),
        client_token: field('client_token')
      },
      onShouldRetry: shouldRetry,
      onProgress: showProgress,
      onError: function (err) {
        showError(reasonOf(err));
      },
      onSuccess: function () {
        // The case page again, reloaded even when only its #fragment differs, so the new item shows.
        var target = new URL(data.uploadDone, window.location.href);
        if (target.pathname === window.location.pathname && target.search === window.location.search) {
          window.location.hash = target.hash;
          window.location.reload();
        } else {
          window.location.assign(target.href);
        }
      }
    });

    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        say(data.msgResuming);
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    });
  }
}());
