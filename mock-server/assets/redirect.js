// The JavaScript SDK's redirect script (docs/contract/connect.md#the-js-sdks-redirect-page),
// reimplemented: Connect's redirect lands the popup on /v2/redirect?…; this posts what the query
// says to the window that opened the popup, at `app_origin` (or this page's own origin), then
// closes it.
(function () {
  'use strict';

  if (!window.opener) {
    throw new Error('window.opener must be defined');
  }

  // URLSearchParams decodes like the real script does, `+` included; a missing field is null.
  var params = new URLSearchParams(window.location.search);
  var message = {
    name: 'SmartcarAuthMessage',
    isSmartcarHosted: window.location.origin === 'https://javascript-sdk.smartcar.com',
    code: params.get('code'),
    error: params.get('error'),
    errorDescription: params.get('error_description'),
    state: params.get('state'),
    vin: params.get('vin'),
    make: params.get('make'),
    model: params.get('model'),
    year: params.get('year'),
    virtualKeyUrl: params.get('virtual_key_url'),
    userId: params.get('user_id')
  };
  // Added only when the query has it, as the real script does since 2.14.
  if (params.has('external_id')) {
    message.externalId = params.get('external_id');
  }

  var targetOrigin = params.get('app_origin') || window.location.origin;
  window.opener.postMessage(message, targetOrigin);
  window.close();
})();
