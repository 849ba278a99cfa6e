// Storage for the Function App host: blobs (leases, the deployment package), queues and
// tables (Durable Functions' task hub, and the app's own: the streams' history and the
// sweep's index of rooms). Shared-key access is off: the app reaches it only with its
// managed identity (roles in roles.bicep: Storage Table Data Contributor for the tables).

@description('Azure region for the storage account.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_43:checkov cannot resolve the name parameter; main.bicep builds it as take('st' + prefix + uniqueString(...), 24), lowercase letters and digits, and @minLength/@maxLength bound it here.
  //checkov:skip=CKV_AZURE_35:Flex Consumption without VNet integration reaches the host storage over its public endpoint; shared keys are off, so only Entra ID identities with a role get in.
  //checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35: public endpoint, identity-only access, no anonymous blob access.
  //checkov:skip=CKV_AZURE_206:The account holds the host's transient state (leases, queues, Durable history, the zip package); LRS keeps the Free-tier demo cheap and everything is recreated by a redeploy.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app's tables, named as azure_adapter/table_names.py names them (tests/infra checks).
var historyTableName = 'streamhistory'
var roomsTableName = 'streamrooms'

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource historyTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: historyTableName
}

resource roomsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: roomsTableName
}

output storageAccountName string = storage.name
output deploymentContainerName string = deploymentContainer.name
