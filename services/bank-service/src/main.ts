// placeholder: replaced by the service implementation
export {};
