// Submits a form marked data-autosubmit as soon as the page is ready (the SAML
// HTTP-POST binding). Without JavaScript the form's visible button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-autosubmit]");
  if (form) {
    form.submit();
  }
});
